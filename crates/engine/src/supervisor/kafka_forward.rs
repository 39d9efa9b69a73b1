//! The host forward of a Kafka broker's port. A Kafka client asks its bootstrap server
//! for the cluster's brokers and then connects to the addresses they advertise; inside the
//! environment the broker advertises the service's name (`events:9092`), which a client on
//! the host cannot reach. This forward reads the Kafka framing in both directions and, in
//! the answers that carry broker addresses (Metadata, FindCoordinator, DescribeCluster),
//! puts the forward's own host address in place of the broker's. Everything else is copied
//! unchanged, frame by frame, as Testcontainers' host listener does for a real Kafka.
//!
//! ApiVersions answers are capped at the versions of those three messages this forward can
//! read, so a client never asks in a version whose answer would pass unrewritten.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use kafka_protocol::messages::{
    ApiVersionsResponse, DescribeClusterResponse, FindCoordinatorResponse, MetadataResponse,
    ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message, StrBytes};
use tokio::io::{AsyncBufRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Kafka API keys whose answers this forward reads.
const API_VERSIONS: i16 = 18;
const METADATA: i16 = 3;
const FIND_COORDINATOR: i16 = 10;
const DESCRIBE_CLUSTER: i16 = 60;

/// Larger answers of the keys above are copied unread (a Metadata answer of a cluster with
/// tens of thousands of partitions stays well below it).
const MAX_REWRITTEN_FRAME: usize = 64 << 20;

/// Requests in flight whose answers are rewritten: correlation id → (API key, version).
type Pending = Arc<Mutex<HashMap<i32, (i16, i16)>>>;

/// Where clients on the host reach the broker, and the port it advertises inside.
#[derive(Debug, Clone)]
pub(super) struct Advertised {
    /// The forward's own address on the host (`127.0.0.1:PORT`).
    pub host: SocketAddr,
    /// The broker's port in the environment; advertised brokers on it are rewritten.
    pub broker_port: u16,
}

/// Carries one host connection to the broker until either side closes.
pub(super) async fn relay(client: TcpStream, broker: TcpStream, advertised: Advertised) {
    let pending: Pending = Arc::default();
    let (client_read, mut client_write) = client.into_split();
    let (broker_read, mut broker_write) = broker.into_split();
    let requests = {
        let pending = pending.clone();
        async move {
            let _ = requests(BufReader::new(client_read), &mut broker_write, &pending).await;
            let _ = broker_write.shutdown().await;
        }
    };
    let answers = async move {
        let mut reader = BufReader::new(broker_read);
        let _ = answers(&mut reader, &mut client_write, &pending, &advertised).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(requests, answers);
}

/// Copies request frames to the broker, noting those whose answers carry addresses.
async fn requests<R, W>(mut from: R, to: &mut W, pending: &Pending) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let Some(len) = frame_length(&mut from).await? else {
            return Ok(());
        };
        to.write_all(&len.to_be_bytes()).await?;
        // Every request header starts with the API key, its version and the correlation id.
        let mut head = [0u8; 8];
        let taken = (len as usize).min(head.len());
        from.read_exact(&mut head[..taken]).await?;
        if taken == head.len() {
            let key = i16::from_be_bytes([head[0], head[1]]);
            let version = i16::from_be_bytes([head[2], head[3]]);
            let correlation = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
            if matches!(
                key,
                API_VERSIONS | METADATA | FIND_COORDINATOR | DESCRIBE_CLUSTER
            ) {
                pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(correlation, (key, version));
            }
        }
        to.write_all(&head[..taken]).await?;
        copy_exactly(&mut from, to, u64::from(len) - taken as u64).await?;
    }
}

/// Copies answer frames to the client, rewriting those of noted requests.
async fn answers<R, W>(
    from: &mut R,
    to: &mut W,
    pending: &Pending,
    advertised: &Advertised,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let Some(len) = frame_length(from).await? else {
            return Ok(());
        };
        let len = len as usize;
        let mut correlation = [0u8; 4];
        let taken = len.min(correlation.len());
        from.read_exact(&mut correlation[..taken]).await?;
        let noted = (taken == correlation.len())
            .then(|| {
                pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&i32::from_be_bytes(correlation))
            })
            .flatten();
        match noted {
            Some((key, version)) if len <= MAX_REWRITTEN_FRAME => {
                let mut frame = vec![0u8; len];
                frame[..taken].copy_from_slice(&correlation[..taken]);
                from.read_exact(&mut frame[taken..]).await?;
                let out = rewrite(key, version, &frame, advertised).unwrap_or(frame);
                let out_len = u32::try_from(out.len()).map_err(std::io::Error::other)?;
                to.write_all(&out_len.to_be_bytes()).await?;
                to.write_all(&out).await?;
            }
            _ => {
                to.write_all(&(len as u32).to_be_bytes()).await?;
                to.write_all(&correlation[..taken]).await?;
                copy_exactly(from, to, (len - taken) as u64).await?;
            }
        }
    }
}

/// The next frame's length, or `None` at a clean end of stream between frames.
async fn frame_length<R: AsyncBufRead + Unpin>(from: &mut R) -> std::io::Result<Option<u32>> {
    let mut len = [0u8; 4];
    match from.read_exact(&mut len).await {
        Ok(_) => Ok(Some(u32::from_be_bytes(len))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Copies exactly `n` bytes, failing if the stream ends first.
async fn copy_exactly<R, W>(from: &mut R, to: &mut W, n: u64) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let copied = tokio::io::copy_buf(&mut from.take(n), to).await?;
    if copied < n {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// The answer `frame` (correlation id onward) of request `key`/`version` with the broker's
/// address replaced, or `None` to pass it as it came (a version or shape not understood).
fn rewrite(key: i16, version: i16, frame: &[u8], to: &Advertised) -> Option<Vec<u8>> {
    let host = || StrBytes::from_string(to.host.ip().to_string());
    let port = i32::from(to.host.port());
    let inside = i32::from(to.broker_port);
    match key {
        API_VERSIONS => recode::<ApiVersionsResponse>(frame, version, |m| {
            for api in &mut m.api_keys {
                let readable = match api.api_key {
                    METADATA => MetadataResponse::VERSIONS.max,
                    FIND_COORDINATOR => FindCoordinatorResponse::VERSIONS.max,
                    DESCRIBE_CLUSTER => DescribeClusterResponse::VERSIONS.max,
                    _ => continue,
                };
                api.max_version = api.max_version.min(readable);
            }
        }),
        METADATA => recode::<MetadataResponse>(frame, version, |m| {
            for b in m.brokers.iter_mut().filter(|b| b.port == inside) {
                b.host = host();
                b.port = port;
            }
        }),
        FIND_COORDINATOR => recode::<FindCoordinatorResponse>(frame, version, |m| {
            if m.port == inside {
                m.host = host();
                m.port = port;
            }
            for c in m.coordinators.iter_mut().filter(|c| c.port == inside) {
                c.host = host();
                c.port = port;
            }
        }),
        DESCRIBE_CLUSTER => recode::<DescribeClusterResponse>(frame, version, |m| {
            for b in m.brokers.iter_mut().filter(|b| b.port == inside) {
                b.host = host();
                b.port = port;
            }
        }),
        _ => None,
    }
}

/// Decodes answer `M` in `version` from `frame`, edits it and encodes it again; `None`
/// when the version is not one this crate reads or the bytes are not such an answer.
fn recode<M>(frame: &[u8], version: i16, edit: impl FnOnce(&mut M)) -> Option<Vec<u8>>
where
    M: Message + Decodable + Encodable + HeaderVersion,
{
    if version < M::VERSIONS.min || version > M::VERSIONS.max {
        return None;
    }
    let header_version = M::header_version(version);
    let mut buf = frame;
    let header = ResponseHeader::decode(&mut buf, header_version).ok()?;
    let mut message = M::decode(&mut buf, version).ok()?;
    if !buf.is_empty() {
        return None;
    }
    edit(&mut message);
    let mut out = Vec::with_capacity(frame.len() + 16);
    header.encode(&mut out, header_version).ok()?;
    message.encode(&mut out, version).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
    use kafka_protocol::messages::BrokerId;

    fn advertised() -> Advertised {
        Advertised {
            host: "127.0.0.1:41234".parse().unwrap(),
            broker_port: 9092,
        }
    }

    fn metadata_frame(version: i16, host: &str, port: i32) -> Vec<u8> {
        let mut m = MetadataResponse::default();
        let mut b = MetadataResponseBroker::default();
        b.node_id = BrokerId(1);
        b.host = StrBytes::from_string(host.to_string());
        b.port = port;
        m.brokers.push(b);
        let mut out = Vec::new();
        let mut h = ResponseHeader::default();
        h.correlation_id = 7;
        h.encode(&mut out, MetadataResponse::header_version(version))
            .unwrap();
        m.encode(&mut out, version).unwrap();
        out
    }

    fn decode_metadata(frame: &[u8], version: i16) -> (i32, MetadataResponse) {
        let mut buf = frame;
        let h =
            ResponseHeader::decode(&mut buf, MetadataResponse::header_version(version)).unwrap();
        (
            h.correlation_id,
            MetadataResponse::decode(&mut buf, version).unwrap(),
        )
    }

    #[test]
    fn metadata_answers_name_the_host_forward_in_old_and_flexible_versions() {
        for version in [1, 8, 9, 12] {
            let frame = metadata_frame(version, "events", 9092);
            let out = rewrite(METADATA, version, &frame, &advertised()).unwrap();
            let (correlation, m) = decode_metadata(&out, version);
            assert_eq!(correlation, 7);
            assert_eq!(m.brokers[0].host.as_str(), "127.0.0.1", "v{version}");
            assert_eq!(m.brokers[0].port, 41234);
        }
    }

    #[test]
    fn a_broker_on_another_port_and_an_unreadable_version_pass_unchanged() {
        let frame = metadata_frame(9, "events", 19092);
        let out = rewrite(METADATA, 9, &frame, &advertised()).unwrap();
        assert_eq!(
            decode_metadata(&out, 9).1.brokers[0].host.as_str(),
            "events"
        );
        assert!(rewrite(METADATA, 99, &frame, &advertised()).is_none());
        assert!(rewrite(METADATA, 9, &frame[..frame.len() - 3], &advertised()).is_none());
    }

    #[tokio::test]
    async fn frames_are_relayed_whole_and_only_noted_answers_change() {
        let pending: Pending = Arc::default();
        // A Metadata v9 request (correlation 7) and a Produce request (correlation 8).
        let mut wire = Vec::new();
        for (key, version, correlation) in [(METADATA, 9i16, 7i32), (0, 9, 8)] {
            let mut body = Vec::new();
            body.extend(key.to_be_bytes());
            body.extend(version.to_be_bytes());
            body.extend(correlation.to_be_bytes());
            body.extend(b"rest of the request");
            wire.extend((body.len() as u32).to_be_bytes());
            wire.extend(body);
        }
        let mut sent = Vec::new();
        requests(&wire[..], &mut sent, &pending).await.unwrap();
        assert_eq!(sent, wire);
        assert_eq!(pending.lock().unwrap().len(), 1);

        let mut replies = Vec::new();
        let metadata = metadata_frame(9, "events", 9092);
        replies.extend((metadata.len() as u32).to_be_bytes());
        replies.extend(&metadata);
        let produce = [0u8, 0, 0, 8, 1, 2, 3];
        replies.extend((produce.len() as u32).to_be_bytes());
        replies.extend(produce);
        let mut received = Vec::new();
        answers(&mut &replies[..], &mut received, &pending, &advertised())
            .await
            .unwrap();
        let len = u32::from_be_bytes(received[..4].try_into().unwrap()) as usize;
        let (_, m) = decode_metadata(&received[4..4 + len], 9);
        assert_eq!(m.brokers[0].port, 41234);
        assert_eq!(&received[4 + len..], &replies[4 + metadata.len()..]);
        assert!(pending.lock().unwrap().is_empty());
    }
}
