//! Waiting for the Kafka broker the registry stands beside: Confluent's registry serves only
//! once its broker answers, so a health check of the registry also says the broker is up.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The correlation id of the probe, echoed at offset 4 of the broker's reply.
const CORRELATION: [u8; 4] = *b"vsr1";

/// An ApiVersions v0 request (length, api key 18, version 0, correlation id, client id).
fn api_versions_request() -> Vec<u8> {
    let client = b"vers-schema-registry";
    let mut body = Vec::new();
    body.extend_from_slice(&18i16.to_be_bytes());
    body.extend_from_slice(&0i16.to_be_bytes());
    body.extend_from_slice(&CORRELATION);
    body.extend_from_slice(&(client.len() as i16).to_be_bytes());
    body.extend_from_slice(client);
    let mut request = (body.len() as i32).to_be_bytes().to_vec();
    request.extend_from_slice(&body);
    request
}

/// One ApiVersions exchange with the broker at `addr`.
async fn answers(addr: SocketAddr) -> Result<(), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        stream
            .write_all(&api_versions_request())
            .await
            .map_err(|e| e.to_string())?;
        let mut head = [0u8; 8];
        stream
            .read_exact(&mut head)
            .await
            .map_err(|e| e.to_string())?;
        if head[4..8] == CORRELATION {
            Ok(())
        } else {
            Err("the reply is not a Kafka ApiVersions response".to_string())
        }
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .unwrap_or_else(|_| Err("no reply within 2 s".into()))
}

/// Waits until the broker at `addr` answers an ApiVersions request, logging every 10 s
/// while it does not.
pub(crate) async fn wait_for(addr: SocketAddr) {
    let began = Instant::now();
    let mut next_log = Duration::from_secs(10);
    loop {
        match answers(addr).await {
            Ok(()) => return,
            Err(e) if began.elapsed() >= next_log => {
                eprintln!(
                    "schema registry: waiting for the Kafka broker at {addr} ({} s): {e}",
                    began.elapsed().as_secs()
                );
                next_log += Duration::from_secs(10);
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn the_request_is_an_api_versions_v0_request() {
        let r = api_versions_request();
        assert_eq!(&r[..4], &((r.len() - 4) as i32).to_be_bytes());
        assert_eq!(&r[4..8], &[0, 18, 0, 0]);
        assert_eq!(&r[8..12], &CORRELATION);
    }

    #[tokio::test]
    async fn waits_for_a_reply_echoing_the_correlation_id() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let broker = tokio::spawn(async move {
            // The first connection gets a wrong reply, the second the right one.
            for reply in [*b"xxxx", CORRELATION] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut request = vec![0u8; api_versions_request().len()];
                s.read_exact(&mut request).await.unwrap();
                let mut answer = 4i32.to_be_bytes().to_vec();
                answer.extend_from_slice(&reply);
                s.write_all(&answer).await.unwrap();
            }
        });
        assert!(answers(addr).await.is_err());
        tokio::time::timeout(Duration::from_secs(5), wait_for(addr))
            .await
            .unwrap();
        broker.await.unwrap();
    }
}
