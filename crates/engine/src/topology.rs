//! Addresses inside an environment, as a pod network: every service instance (each replica
//! of an app, every engine and mock) runs in a network namespace of its own, its *pod*, with
//! an address of its own; every service has a *front* address in the environment's
//! namespace, where its name resolves and where a proxy listens on each of its ports,
//! balancing over its instances and injecting faults.
//!
//! Plan (the same for every environment, so every branch of a checkpoint places services
//! identically): service `i` (manifest order) has the front `10.99.(i/250).(i%250+1)`; its
//! replica `r` lives in a pod at `10.(100+r).(i/250).(i%250+1)`. Test commands, hooks and
//! scripts run in the environment's namespace and reach services by name through the fronts.

use std::net::Ipv4Addr;

use vers_manifest::{Manifest, Service};

/// The network holding every front address; local in the environment's namespace.
pub const FRONT_NET: &str = "10.99.0.0/16";

/// Most replicas one service can have in this address plan.
pub const MAX_REPLICAS: u32 = 155;

/// One service instance's pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// The instance's address.
    pub address: Ipv4Addr,
    /// Suffix of the pod's namespace name after the environment's (`.i.r`).
    pub suffix: String,
    /// Name of the environment's end of the pod's veth pair.
    pub veth: String,
}

impl Pod {
    /// The pod's network namespace name in the environment whose namespace is `env_netns`.
    pub fn netns(&self, env_netns: &str) -> String {
        format!("{env_netns}{}", self.suffix)
    }
}

/// Where one service lives inside an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Service name (also its hostname).
    pub name: String,
    /// Address the name resolves to (the service's proxy).
    pub front: Ipv4Addr,
    /// Address of each replica's pod (the proxy's backends).
    pub backends: Vec<Ipv4Addr>,
    /// Each replica's pod.
    pub pods: Vec<Pod>,
    /// Standard ports, main first.
    pub ports: Vec<u16>,
}

/// Whether a service is an app built or run from the user's source (not a catalog template).
pub fn is_app(service: &Service) -> bool {
    service.template.is_none()
}

/// The pod namespace prefix of every pod of an environment (`NAME.`): pods are found and
/// removed by it.
pub fn pod_prefix(env_netns: &str) -> String {
    format!("{env_netns}.")
}

/// Computes the placement of every service, in manifest order.
pub fn placements(manifest: &Manifest) -> Vec<Placement> {
    manifest
        .services
        .iter()
        .enumerate()
        .map(|(i, (name, svc))| {
            let hi = (i / 250) as u8;
            let lo = (i % 250) as u8 + 1;
            let front = Ipv4Addr::new(10, 99, hi, lo);
            let replicas = svc.replicas.clamp(1, MAX_REPLICAS);
            let pods: Vec<Pod> = (0..replicas)
                .map(|r| Pod {
                    address: Ipv4Addr::new(10, 100 + r as u8, hi, lo),
                    suffix: format!(".{i}.{r}"),
                    veth: format!("vp{i}x{r}"),
                })
                .collect();
            Placement {
                name: name.clone(),
                front,
                backends: pods.iter().map(|p| p.address).collect(),
                pods,
                ports: vers_manifest::standard_ports(svc),
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

/// The service whose pod has `address` (a client's source address), if any.
pub fn owner_of(placements: &[Placement], address: Ipv4Addr) -> Option<&Placement> {
    placements.iter().find(|p| p.backends.contains(&address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(yaml: &str) -> Manifest {
        vers_manifest::parse_str(yaml, std::path::Path::new("vers-integration.yaml")).unwrap()
    }

    #[test]
    fn every_instance_has_its_own_pod_and_every_service_a_front() {
        let m = manifest(
            "name: t\nservices:\n  db:\n    template: postgres@15\n  web:\n    build: .\n    replicas: 3\n",
        );
        let p = placements(&m);
        assert_eq!(p[0].front, Ipv4Addr::new(10, 99, 0, 1));
        assert_eq!(p[0].backends, vec![Ipv4Addr::new(10, 100, 0, 1)]);
        assert_eq!(p[1].front, Ipv4Addr::new(10, 99, 0, 2));
        assert_eq!(
            p[1].backends,
            vec![
                Ipv4Addr::new(10, 100, 0, 2),
                Ipv4Addr::new(10, 101, 0, 2),
                Ipv4Addr::new(10, 102, 0, 2)
            ]
        );
        assert_eq!(p[1].pods[2].netns("vers-k-e1"), "vers-k-e1.1.2");
        assert!(p[1].pods[2]
            .netns("vers-k-e1")
            .starts_with(&pod_prefix("vers-k-e1")));
        assert!(p
            .iter()
            .flat_map(|p| &p.pods)
            .all(|pod| pod.veth.len() <= 15));
        assert_eq!(
            owner_of(&p, Ipv4Addr::new(10, 101, 0, 2)).map(|p| p.name.as_str()),
            Some("web")
        );
        assert!(owner_of(&p, Ipv4Addr::new(10, 99, 0, 2)).is_none());
    }
}
