//! A server under test as a child process: start, wait until it answers,
//! read its memory and CPU time from /proc, stop.

use anyhow::{Context, bail};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Server {
    pub name: &'static str,
    pub addr: SocketAddr,
    child: Child,
    /// The highest private memory seen since `reset_peak`.
    peak: Arc<AtomicU64>,
    /// Bumped by `reset_peak` and `stop`: ends the sampler before it.
    window: Arc<AtomicU64>,
}

/// A free loopback port (bound and released: the server takes it a moment later).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

impl Server {
    /// Starts `cmd` (its output appended to `log`), optionally pinned to
    /// `cpus` with taskset, and waits until `health_path` answers 200.
    /// Returns the server and how long that took.
    pub fn start(
        name: &'static str,
        mut cmd: Command,
        addr: SocketAddr,
        health_path: &str,
        log: &Path,
        cpus: Option<&str>,
    ) -> anyhow::Result<(Server, Duration)> {
        if let Some(cpus) = cpus {
            let mut pinned = Command::new("taskset");
            pinned.arg("-c").arg(cpus).arg(cmd.get_program());
            pinned.args(cmd.get_args());
            for (k, v) in cmd.get_envs() {
                if let Some(v) = v {
                    pinned.env(k, v);
                }
            }
            cmd = pinned;
        }
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let started = Instant::now();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let mut server = Server {
            name,
            addr,
            child,
            peak: Arc::new(AtomicU64::new(0)),
            window: Arc::new(AtomicU64::new(0)),
        };
        let deadline = started + Duration::from_secs(600);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "{name} exited with {status} before it answered; see {}",
                    log.display()
                );
            }
            if health(addr, health_path) {
                return Ok((server, started.elapsed()));
            }
            if Instant::now() > deadline {
                bail!("{name} did not answer {health_path} within 10 minutes");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's own memory now, in bytes: its private resident pages
    /// (`RssAnon` + `RssShmem`). Pages of a database file it maps (Harmonia's
    /// SQLite connections read through mmap) are the kernel's page cache,
    /// shared and reclaimable, and are left out, as is the executable.
    pub fn rss(&self) -> u64 {
        private_bytes(self.pid()).unwrap_or(0)
    }

    /// The highest `rss` since the last `reset_peak` (sampled every 5 ms).
    pub fn peak_rss(&self) -> u64 {
        self.peak.load(Ordering::Relaxed).max(self.rss())
    }

    /// Starts a new peak window: a thread samples `rss` until the next.
    pub fn reset_peak(&self) {
        let window = self.window.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.store(self.rss(), Ordering::Relaxed);
        let (pid, peak, current) = (self.pid(), self.peak.clone(), self.window.clone());
        std::thread::spawn(move || {
            while current.load(Ordering::SeqCst) == window {
                match private_bytes(pid) {
                    Some(b) => peak.fetch_max(b, Ordering::Relaxed),
                    None => return,
                };
                std::thread::sleep(Duration::from_millis(5));
            }
        });
    }

    /// User + system CPU seconds used so far.
    pub fn cpu_secs(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // Fields after the ")" that ends the command name; utime and stime are 14 and 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / clock_ticks()
    }

    /// Waits until the server has used (almost) no CPU for `quiet`: background
    /// work (index rebuilds, the indexer catching up) is done.
    pub fn wait_idle(&self, quiet: Duration) {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            let before = self.cpu_secs();
            std::thread::sleep(quiet);
            if self.cpu_secs() - before <= 0.02 * quiet.as_secs_f64().max(0.5)
                || Instant::now() > deadline
            {
                return;
            }
        }
    }

    /// SIGTERM, then wait (SIGKILL after 30 s).
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.window.fetch_add(1, Ordering::SeqCst);
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                self.child.kill()?;
                self.child.wait()?;
                bail!("{} did not stop within 30 s of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.window.fetch_add(1, Ordering::SeqCst);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks() -> f64 {
    // USER_HZ is 100 on every Linux architecture Harmonia targets.
    100.0
}

/// One GET with a short timeout: true on 200.
fn health(addr: SocketAddr, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && &buf[9..12] == b"200")
}

/// Sends a setup request; its JSON answer, or an error naming `what` with
/// the status and body when it did not succeed.
pub async fn json_answer(
    req: reqwest::RequestBuilder,
    what: &str,
) -> anyhow::Result<serde_json::Value> {
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("{what}: {status} {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// Bytes used on disk under `dir`.
pub fn disk_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A process's private resident memory (`RssAnon` + `RssShmem`), in bytes.
fn private_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((kb("RssAnon:")? + kb("RssShmem:")?) * 1024)
}
