//! The health probe's bytes: a MongoDB `OP_MSG` carrying `{ping: 1, $db: "admin"}`, and the
//! reply header a MongoDB server answers it with. Every MongoDB server (and wire-compatible
//! one) answers `ping` without authentication, so this checks the protocol, not just the port.

use crate::Probe;

/// `OP_MSG`, the opcode of requests and replies since MongoDB 3.6.
const OP_MSG: i32 = 2013;
/// The request id the probe sends; the reply's `responseTo` must repeat it.
const REQUEST_ID: i32 = 0x7665_7273;

/// The BSON document `{ping: 1, $db: "admin"}`.
fn ping_document() -> Vec<u8> {
    let mut elements = Vec::new();
    elements.push(0x10); // int32
    elements.extend_from_slice(b"ping\0");
    elements.extend_from_slice(&1i32.to_le_bytes());
    elements.push(0x02); // string
    elements.extend_from_slice(b"$db\0");
    elements.extend_from_slice(&6i32.to_le_bytes());
    elements.extend_from_slice(b"admin\0");
    let mut doc = Vec::new();
    let length = 4 + elements.len() + 1;
    doc.extend_from_slice(&(length as i32).to_le_bytes());
    doc.extend_from_slice(&elements);
    doc.push(0);
    doc
}

/// The complete `OP_MSG` request: header, no flags, one body section.
pub(crate) fn ping_request() -> Vec<u8> {
    let doc = ping_document();
    let length = 16 + 4 + 1 + doc.len();
    let mut msg = Vec::with_capacity(length);
    msg.extend_from_slice(&(length as i32).to_le_bytes());
    msg.extend_from_slice(&REQUEST_ID.to_le_bytes());
    msg.extend_from_slice(&0i32.to_le_bytes());
    msg.extend_from_slice(&OP_MSG.to_le_bytes());
    msg.extend_from_slice(&0u32.to_le_bytes());
    msg.push(0); // section kind 0: the body document
    msg.extend_from_slice(&doc);
    msg
}

/// Healthy when the server on `port` answers the ping with an `OP_MSG` responding to it.
pub(crate) fn ping_probe(port: u16) -> Probe {
    let mut expect = Vec::with_capacity(8);
    expect.extend_from_slice(&REQUEST_ID.to_le_bytes());
    expect.extend_from_slice(&OP_MSG.to_le_bytes());
    Probe::Exchange {
        port,
        send: ping_request(),
        expect_at: 8,
        expect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_well_formed_op_msg() {
        let msg = ping_request();
        assert_eq!(
            i32::from_le_bytes(msg[0..4].try_into().unwrap()) as usize,
            msg.len()
        );
        assert_eq!(i32::from_le_bytes(msg[12..16].try_into().unwrap()), 2013);
        let doc = &msg[21..];
        assert_eq!(
            i32::from_le_bytes(doc[0..4].try_into().unwrap()) as usize,
            doc.len()
        );
        assert_eq!(*doc.last().unwrap(), 0);
        assert!(doc.windows(5).any(|w| w == b"ping\0"));
    }
}
