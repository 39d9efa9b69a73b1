//! Addresses inside an environment: every service has a front address its name resolves to,
//! and every replica a backend address; all listen on the service's standard ports.

use std::net::Ipv4Addr;

use vers_manifest::{Manifest, Service};

/// Where one service lives inside an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Service name (also its hostname).
    pub name: String,
    /// Address the name resolves to.
    pub front: Ipv4Addr,
    /// Backend address of each replica.
    pub backends: Vec<Ipv4Addr>,
    /// Standard ports, main first.
    pub ports: Vec<u16>,
    /// Whether a proxy sits on the front address (engines, mocks, replicated apps).
    pub proxied: bool,
}

/// Whether a service is an app built or run from the user's source (not a catalog template).
pub fn is_app(service: &Service) -> bool {
    service.template.is_none()
}

/// Computes the placement of every service, in manifest order. Addresses depend only on the
/// manifest order, so every branch of a checkpoint places services identically.
pub fn placements(manifest: &Manifest) -> Vec<Placement> {
    manifest
        .services
        .iter()
        .enumerate()
        .map(|(i, (name, svc))| {
            let hi = (i / 250) as u8;
            let lo = (i % 250) as u8 + 1;
            let front = Ipv4Addr::new(127, 10, hi, lo);
            let replicas = svc.replicas.max(1);
            // A single-replica app listens on its front address itself: apps that bind every
            // address then work unchanged; replicated apps sit behind the balancer.
            let proxied = !is_app(svc) || replicas > 1;
            let backends = if proxied {
                (0..replicas)
                    .map(|r| Ipv4Addr::new(127, 11 + (r.min(200)) as u8, hi, lo))
                    .collect()
            } else {
                vec![front]
            };
            Placement {
                name: name.clone(),
                front,
                backends,
                ports: vers_manifest::standard_ports(svc),
                proxied,
            }
        })
        .collect()
}

/// The hosts-file entries of an environment: every service name to its front address.
pub fn hosts_entries(placements: &[Placement]) -> Vec<(String, Ipv4Addr)> {
    placements
        .iter()
        .map(|p| (p.name.clone(), p.front))
        .collect()
}

/// The placement of a service by name.
pub fn find<'a>(placements: &'a [Placement], name: &str) -> Option<&'a Placement> {
    placements.iter().find(|p| p.name == name)
}
