//! A mutation fuzzer for `parse_str` (stable Rust has no libFuzzer): it mutates the stack
//! templates by byte, line and token edits and checks that parsing never panics and that
//! `plan` of every accepted manifest never panics either; `add_service` on every accepted
//! manifest must give a manifest that still validates.
//!
//! Usage: `cargo run --release -p vers-manifest --example fuzz_manifest -- SECONDS [SEED] [OUT_DIR]`.
//! Crashing inputs are written to OUT_DIR (default `fuzz-crashes`); the exit code is 1 if any.

use std::panic;
use std::path::Path;
use std::time::{Duration, Instant};

/// xorshift64*: a small deterministic generator, enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&str] = &[
    ":",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"",
    "'",
    "&a ",
    "*a",
    "!!str ",
    "---\n",
    "...\n",
    "#",
    "|\n",
    ">\n",
    "\t",
    "\n",
    "  ",
    "${",
    "${X:-",
    "$$",
    "}",
    "@",
    "@99",
    "services.*.healthcheck",
    "services.[a,b-*].healthcheck",
    "tests.x.setup[3]",
    "depends_on: [",
    "soft_depends_on: ",
    "template: ",
    "postgres@15",
    "redis@7",
    "kafka@3",
    "stripe-mock",
    "oauth-mock",
    "mailhog",
    "build: .",
    "replicas: ",
    "0",
    "-1",
    "99999999999999999999",
    "1.5",
    "true",
    "null",
    "~",
    "256mb",
    "1gb",
    "500ms",
    "5m",
    "\u{feff}",
    "é",
    "\u{0}",
    "ports: [\"3001:3000\"]",
    "matrix:\n  postgres: [14, 15]\n",
    "checkpoints:\n  - name: x\n    after: ",
    "expect: fail",
    "<<: *a",
    "    scenarios:\n      - name: s\n        inject: {service: postgres, action: kill, after: 30s}\n        expect: [a.b, c]\n",
    "chaos:\n  scenarios:\n    - name: c\n      service: redis\n      action: network-delay\n      latency: 5s\n",
    "inject: {service: app, action: http-error, status: 503, percent: 50, from: [postgres]}",
    "action: disk-fill",
    "percentage: 0",
    "rate: 0",
    "loss: 150%",
    "intensity: 101",
    "timeout: 1s",
    "run_first: true",
    "    inputs: [\"db/**/*.sql\", ../x]\n    warm: 3\n",
    "../../tmp/x",
];

fn mutate(rng: &mut Rng, seeds: &[&str], input: &str) -> String {
    let mut s: Vec<u8> = input.as_bytes().to_vec();
    let rounds = 1 + rng.below(8);
    for _ in 0..rounds {
        match rng.below(9) {
            0 if !s.is_empty() => {
                let i = rng.below(s.len());
                s[i] = (rng.next() & 0xff) as u8;
            }
            1 if !s.is_empty() => {
                let i = rng.below(s.len());
                let n = 1 + rng.below(16.min(s.len() - i));
                s.drain(i..i + n);
            }
            2 => {
                let i = rng.below(s.len() + 1);
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                s.splice(i..i, t.iter().copied());
            }
            3 | 4 => {
                let text = String::from_utf8_lossy(&s).into_owned();
                let mut lines: Vec<&str> = text.split('\n').collect();
                if lines.len() > 1 {
                    let a = rng.below(lines.len());
                    let b = rng.below(lines.len());
                    match rng.below(3) {
                        0 => lines.swap(a, b),
                        1 => {
                            let l = lines[a];
                            lines.insert(b, l);
                        }
                        _ => {
                            lines.remove(a);
                        }
                    }
                }
                s = lines.join("\n").into_bytes();
            }
            5 => {
                // Splice a line from another seed.
                let other: Vec<&str> = seeds[rng.below(seeds.len())].lines().collect();
                if !other.is_empty() {
                    let line = other[rng.below(other.len())];
                    let text = String::from_utf8_lossy(&s).into_owned();
                    let mut lines: Vec<&str> = text.split('\n').collect();
                    let at = rng.below(lines.len() + 1);
                    lines.insert(at, line);
                    s = lines.join("\n").into_bytes();
                }
            }
            6 if !s.is_empty() => {
                // Re-indent a line by a few spaces.
                let text = String::from_utf8_lossy(&s).into_owned();
                let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
                let a = rng.below(lines.len());
                if rng.below(2) == 0 {
                    lines[a] = format!("{}{}", " ".repeat(1 + rng.below(4)), lines[a]);
                } else {
                    lines[a] = lines[a].trim_start().to_string();
                }
                s = lines.join("\n").into_bytes();
            }
            7 if !s.is_empty() => {
                // Duplicate a chunk.
                let i = rng.below(s.len());
                let n = 1 + rng.below(64.min(s.len() - i));
                let chunk: Vec<u8> = s[i..i + n].to_vec();
                let at = rng.below(s.len() + 1);
                s.splice(at..at, chunk);
            }
            _ => {
                let i = rng.below(s.len() + 1);
                const PUNCT: &[u8] = b"\n :-[]{}#&*!|>'\"%@`\t";
                s.insert(i, PUNCT[rng.below(PUNCT.len())]);
            }
        }
    }
    String::from_utf8_lossy(&s).into_owned()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(60);
    let seed: u64 = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let out_dir = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| "fuzz-crashes".to_string());
    let seeds: Vec<&str> = vers_manifest::scaffold::stack_names()
        .iter()
        .filter_map(|n| vers_manifest::scaffold::stack_template(n))
        .collect();
    panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    let mut rng = Rng(seed | 1);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let path = Path::new("fuzz.yaml");
    let (mut iterations, mut accepted, mut crashes) = (0u64, 0u64, 0u64);
    let mut corpus: Vec<String> = seeds.iter().map(|s| s.to_string()).collect();
    while Instant::now() < deadline {
        for _ in 0..64 {
            let base = corpus[rng.below(corpus.len())].clone();
            let input = mutate(&mut rng, &seeds, &base);
            iterations += 1;
            let result = panic::catch_unwind(|| {
                let valid = match vers_manifest::parse_str(&input, path) {
                    Ok(m) => {
                        let p = vers_manifest::plan(&m);
                        let _ = serde_json::to_string(&p);
                        true
                    }
                    Err(d) => {
                        let _ = d.to_string();
                        false
                    }
                };
                // Adding a service to a valid manifest must keep it valid.
                let tref = vers_manifest::TemplateRef::parse("redis@7");
                let config = [("maxmemory".to_string(), "1gb".to_string())];
                if let Ok(out) =
                    vers_manifest::scaffold::add_service(&input, "fuzz-added", &tref, &config)
                {
                    if valid {
                        if let Err(d) = vers_manifest::parse_str(&out, path) {
                            panic!("add_service broke a valid manifest:\n{d}");
                        }
                    }
                }
                valid
            });
            match result {
                Ok(ok) => {
                    if ok {
                        accepted += 1;
                        if corpus.len() < 512 {
                            corpus.push(input);
                        }
                    } else if rng.below(64) == 0 && corpus.len() < 512 {
                        corpus.push(input);
                    }
                }
                Err(_) => {
                    crashes += 1;
                    let _ = std::fs::create_dir_all(&out_dir);
                    let file = Path::new(&out_dir).join(format!("crash-{iterations}.yaml"));
                    let _ = std::fs::write(&file, &input);
                    eprintln!("crash: input saved to {}", file.display());
                }
            }
        }
    }
    println!(
        "fuzz_manifest: {seconds}s, {iterations} iterations, {accepted} valid, {crashes} crashes"
    );
    if crashes > 0 {
        std::process::exit(1);
    }
}
