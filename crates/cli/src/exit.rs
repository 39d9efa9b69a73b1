//! Exit codes: 0 success, 1 test failures or failed operations, 2 usage or manifest errors.

use vers_engine::EngineError;

/// A non-zero ending of the command, with what to print on stderr.
#[derive(Debug)]
pub struct Exit {
    code: i32,
    message: String,
}

impl Exit {
    /// An operation failed (exit 1).
    pub fn failure(message: impl Into<String>) -> Exit {
        Exit {
            code: 1,
            message: format!("error: {}", message.into()),
        }
    }

    /// Bad usage or manifest (exit 2).
    pub fn usage(message: impl Into<String>) -> Exit {
        Exit {
            code: 2,
            message: message.into(),
        }
    }

    /// Exit with `code` after the output was already printed.
    pub fn silent(code: i32) -> Exit {
        Exit {
            code,
            message: String::new(),
        }
    }

    /// Code and message.
    pub fn render(self) -> (i32, String) {
        (self.code, self.message)
    }
}

impl From<EngineError> for Exit {
    fn from(e: EngineError) -> Exit {
        if e.is_usage() {
            Exit::usage(format!("error: {e}"))
        } else {
            Exit::failure(e.to_string())
        }
    }
}
