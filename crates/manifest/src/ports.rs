//! `ports:` of a service: which host ports forward into it, in the spellings Compose users
//! write (`"3001:3000"`, `"127.0.0.1:3001:3000"`, `"3001:3000/tcp"`, ranges, the long
//! form with `target:`/`published:`). vers forwards TCP on 127.0.0.1 only, so that only
//! the users `access` allows can connect; other addresses and protocols are refused.

use crate::ctx::Ctx;
use crate::diagnostic::quote;
use crate::model::PortMap;
use crate::read::{self, describe};
use crate::yaml::{Node, NodeKind, Pos};

/// Keys of the long form of an item of `ports`.
const LONG_FORM: &[&str] = &["target", "published", "host_ip", "protocol", "mode", "name"];

/// The longest range of ports one item may forward.
const MAX_RANGE: u16 = 100;

/// What is wrong with one item, and how to write it.
struct Refusal {
    message: String,
    help: String,
}

impl Refusal {
    /// Records the refusal at `pos`, saying whose `ports` it is in.
    fn report(self, cx: &mut Ctx, pos: Pos, what: &str) {
        cx.err_help(pos, format!("{} in {what}", self.message), self.help);
    }
}

/// Reads `ports:` of `what`; every mapping found is returned, errors are recorded in `cx`.
pub(crate) fn decode(cx: &mut Ctx, node: &Node, what: &str) -> Vec<PortMap> {
    let mut out: Vec<PortMap> = Vec::new();
    let NodeKind::Seq(items) = &node.kind else {
        cx.err(
            node.pos,
            format!(
                "`ports` of {what} must be a list like [\"3001:3000\"], found {}",
                describe(node)
            ),
        );
        return out;
    };
    for item in items {
        let parsed = match &item.kind {
            NodeKind::Map(_) => long_form(cx, item, what),
            _ => {
                let Some(s) = read::string(cx, item, &format!("an item of `ports` of {what}"))
                else {
                    continue;
                };
                Some(short_form(&s))
            }
        };
        match parsed {
            Some(Ok(maps)) => {
                for map in maps {
                    if out.iter().any(|p| p.host == map.host) {
                        cx.err(
                            item.pos,
                            format!("host port {} is forwarded twice in {what}", map.host),
                        );
                    }
                    out.push(map);
                }
            }
            Some(Err(r)) => r.report(cx, item.pos, what),
            None => {}
        }
    }
    out
}

fn invalid(s: &str) -> Refusal {
    Refusal {
        message: format!("invalid port mapping {}", quote(s)),
        help: "use \"HOST:CONTAINER\" with ports 1-65535, e.g. \"3001:3000\"".into(),
    }
}

/// `[ADDRESS:]HOST:CONTAINER[/tcp]`, `PORT`, or ranges `A-B:C-D` of equal length.
fn short_form(s: &str) -> Result<Vec<PortMap>, Refusal> {
    let t = s.trim();
    let t = strip_protocol(t).map_err(|p| protocol_refusal(s, p))?;
    let (address, rest) = split_address(t).ok_or_else(|| invalid(s))?;
    if let Some(a) = address {
        check_address(a, s)?;
    }
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => (rest, rest),
    };
    let hosts = port_range(host).ok_or_else(|| invalid(s))?;
    let containers = port_range(container).ok_or_else(|| invalid(s))?;
    if hosts.len() != containers.len() {
        return Err(Refusal {
            message: format!(
                "port mapping {} maps {} host ports to {} container ports",
                quote(s),
                hosts.len(),
                containers.len()
            ),
            help: "give ranges of the same length, e.g. \"9000-9002:9000-9002\"".into(),
        });
    }
    Ok(hosts
        .into_iter()
        .zip(containers)
        .map(|(host, container)| PortMap { host, container })
        .collect())
}

/// Compose's long form: `{target: 3000, published: "3001", host_ip: 127.0.0.1}`.
fn long_form(cx: &mut Ctx, node: &Node, what: &str) -> Option<Result<Vec<PortMap>, Refusal>> {
    let item = format!("an item of `ports` of {what}");
    let f = read::fields(cx, node, Some(LONG_FORM), &item)?;
    let mut target = None;
    let mut published = None;
    for (key, _, value) in f.iter() {
        let text = read::string(cx, value, &format!("`{key}` of {item}"))?;
        match *key {
            "target" => target = Some(text),
            "published" => published = Some(text),
            "host_ip" => {
                if let Err(r) = check_address(&text, &text) {
                    r.report(cx, value.pos, what);
                    return None;
                }
            }
            "protocol" if !text.eq_ignore_ascii_case("tcp") => {
                protocol_refusal(&text, &text).report(cx, value.pos, what);
                return None;
            }
            _ => {}
        }
    }
    let Some(target) = target else {
        cx.err_help(
            node.pos,
            format!("{item} has no `target`"),
            "name the service's port, e.g. {target: 3000, published: 3001}",
        );
        return None;
    };
    let spec = match published {
        Some(p) => format!("{p}:{target}"),
        None => target,
    };
    Some(short_form(&spec))
}

/// Strips `/tcp`; any other protocol is returned as the error.
fn strip_protocol(s: &str) -> Result<&str, &str> {
    match s.rsplit_once('/') {
        Some((rest, p)) if p.eq_ignore_ascii_case("tcp") => Ok(rest),
        Some((_, p)) => Err(p),
        None => Ok(s),
    }
}

fn protocol_refusal(s: &str, protocol: &str) -> Refusal {
    Refusal {
        message: format!(
            "port mapping {} asks for {}; vers forwards TCP only",
            quote(s),
            quote(protocol)
        ),
        help: "drop the protocol (TCP is the default), e.g. \"3001:3000\"".into(),
    }
}

/// Splits `ADDRESS:HOST:CONTAINER` (address possibly `[v6]`) from `HOST:CONTAINER`.
fn split_address(s: &str) -> Option<(Option<&str>, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, rest) = rest.split_once(']')?;
        return Some((Some(addr), rest.strip_prefix(':')?));
    }
    match s.matches(':').count() {
        0 | 1 => Some((None, s)),
        2 => s.split_once(':').map(|(a, r)| (Some(a), r)),
        _ => None,
    }
}

/// Only loopback IPv4 is served: the forward listens on 127.0.0.1.
fn check_address(address: &str, s: &str) -> Result<(), Refusal> {
    if matches!(address, "127.0.0.1" | "localhost") {
        return Ok(());
    }
    Err(Refusal {
        message: format!(
            "port mapping {} binds {}; vers forwards host ports on 127.0.0.1 only, so that only the users `access` allows can connect",
            quote(s),
            if address.is_empty() { "every address".to_string() } else { quote(address) }
        ),
        help: "leave the address out (\"HOST:CONTAINER\" listens on 127.0.0.1), or use `vers deploy` to serve others".into(),
    })
}

/// `3000` or `9000-9002` (ports 1-65535, ascending).
fn port_range(s: &str) -> Option<Vec<u16>> {
    let one = |p: &str| p.trim().parse::<u16>().ok().filter(|p| *p > 0);
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            (a <= b && b - a < MAX_RANGE).then(|| (a..=b).collect())
        }
        None => one(s).map(|p| vec![p]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(s: &str) -> Vec<(u16, u16)> {
        match short_form(s) {
            Ok(v) => v.into_iter().map(|m| (m.host, m.container)).collect(),
            Err(r) => panic!("{s}: {}", r.message),
        }
    }

    fn refused(s: &str) -> String {
        match short_form(s) {
            Ok(v) => panic!("{s} accepted as {v:?}"),
            Err(r) => format!("{} / {}", r.message, r.help),
        }
    }

    #[test]
    fn compose_spellings_of_a_loopback_tcp_forward_are_read() {
        assert_eq!(maps("3001:3000"), [(3001, 3000)]);
        assert_eq!(maps("5432"), [(5432, 5432)]);
        assert_eq!(maps("127.0.0.1:9000:9001"), [(9000, 9001)]);
        assert_eq!(maps("localhost:9000:9001"), [(9000, 9001)]);
        assert_eq!(maps("9000:9001/tcp"), [(9000, 9001)]);
        assert_eq!(maps("[127.0.0.1]:9000:9001"), [(9000, 9001)]);
        assert_eq!(
            maps("9000-9002:7000-7002"),
            [(9000, 7000), (9001, 7001), (9002, 7002)]
        );
    }

    #[test]
    fn other_addresses_protocols_and_bad_ranges_are_refused_with_the_way_to_write_them() {
        let r = refused("0.0.0.0:9000:9000");
        assert!(
            r.contains("binds `0.0.0.0`") && r.contains("127.0.0.1 only"),
            "{r}"
        );
        assert!(refused(":9000:9000").contains("every address"));
        assert!(refused("[::]:9000:9000").contains("binds `::`"));
        let r = refused("5353:53/udp");
        assert!(r.contains("`udp`") && r.contains("TCP only"), "{r}");
        assert!(refused("9000-9002:9000").contains("3 host ports to 1"));
        assert!(refused("9002-9000:9000-9002").contains("invalid port mapping"));
        assert!(refused("99999:5432").contains("invalid port mapping `99999:5432`"));
        assert!(refused("1-65535:1-65535").contains("invalid port mapping"));
        assert!(refused("a:b:c:d").contains("invalid port mapping"));
    }
}
