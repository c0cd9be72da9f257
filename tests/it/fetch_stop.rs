//! A fetch that must stop (issue 22): an upstream served by `git daemon` behind a loopback proxy
//! that drips its answer a few bytes at a time, or holds it back until told. An abandoned fetch
//! is cancelled mid-transfer, a fetch past its deadline stops, and a second fetch into a clone
//! that is being fetched is refused while the first runs.
//!
//! Nothing here is timed: the proxy counts what it forwarded, the test waits for counts, and a
//! fetch whose stop did not work would finish successfully (the drip is slow, never stalled), so
//! the assertion on its error fails.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use upkeep::upstream::{Cache, FetchStop};

use crate::support::{Repo, Workspace, git_daemon, wait};

/// A TCP proxy in front of `git daemon`: requests pass at once; answers pass 64 bytes every
/// 5 ms while the tap is open, and not at all while it is shut.
struct Drip {
    port: u16,
    forwarded: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    open: Arc<AtomicBool>,
}

impl Drip {
    fn new(daemon_port: u16, open: bool) -> Drip {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let drip = Drip {
            port,
            forwarded: Arc::default(),
            connections: Arc::default(),
            open: Arc::new(AtomicBool::new(open)),
        };
        let (forwarded, connections, tap) = (
            Arc::clone(&drip.forwarded),
            Arc::clone(&drip.connections),
            Arc::clone(&drip.open),
        );
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                connections.fetch_add(1, Ordering::SeqCst);
                let upstream = TcpStream::connect(("127.0.0.1", daemon_port)).unwrap();
                let (forwarded, tap) = (Arc::clone(&forwarded), Arc::clone(&tap));
                std::thread::spawn(move || relay(client, upstream, &forwarded, &tap));
            }
        });
        drip
    }

    fn url(&self) -> String {
        format!("git://127.0.0.1:{}/upstream.git", self.port)
    }
}

fn relay(client: TcpStream, upstream: TcpStream, forwarded: &AtomicU64, tap: &AtomicBool) {
    let (mut to_upstream, mut from_client) =
        (upstream.try_clone().unwrap(), client.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_upstream);
        let _ = to_upstream.shutdown(Shutdown::Write);
    });
    let (mut from_upstream, mut to_client) = (upstream, client);
    let mut buf = [0u8; 64];
    loop {
        while !tap.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let n = match from_upstream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to_client.write_all(&buf[..n]).is_err() {
            break;
        }
        forwarded.fetch_add(n as u64, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = to_client.shutdown(Shutdown::Both);
}

/// An upstream whose pack is a few hundred KB that does not compress much: minutes at the
/// drip's rate.
fn big_upstream(ws: &Workspace) -> Repo {
    let mut up = Repo::new(&ws.path("served/upstream.git"));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let noise: String = (0..400_000)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 80 == 79 {
                '\n'
            } else {
                alphabet[(x % 64) as usize] as char
            }
        })
        .collect();
    let c = up.commit(&[("blob.txt", Some(&noise))], "r1");
    up.tag("v1.0.0", c);
    up
}

fn wait_forwarded(drip: &Drip, bytes: u64) {
    wait::wait_for(
        "the drip to forward part of the pack",
        wait::CEILING,
        || (drip.forwarded.load(Ordering::SeqCst) > bytes).then_some(()),
    );
}

#[test]
fn an_abandoned_fetch_is_cancelled_mid_transfer() {
    let ws = Workspace::new();
    let _up = big_upstream(&ws);
    let daemon = git_daemon(&ws.path("served"));
    let drip = Drip::new(daemon.port, true);
    let stop = FetchStop::new();
    let cache = Cache::new(ws.path("cache")).with_stop(stop.clone());
    let url = drip.url();
    let fetch = std::thread::spawn(move || cache.fetch("slow", &url).map(|_| ()));
    // Past the ref advertisement: the pack is dripping in.
    wait_forwarded(&drip, 16 * 1024);
    stop.cancel();
    let err = fetch.join().unwrap().unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("cancelled"), "{text}");
    assert!(text.contains("server-timeout"), "{text}");
}

#[test]
fn a_dripping_fetch_stops_at_its_deadline() {
    let ws = Workspace::new();
    let _up = big_upstream(&ws);
    let daemon = git_daemon(&ws.path("served"));
    let drip = Drip::new(daemon.port, true);
    // However the machine schedules this, the transfer cannot end before the deadline: the
    // drip alone needs minutes for the whole pack.
    let stop = FetchStop::new().with_deadline(Instant::now() + Duration::from_secs(1));
    let cache = Cache::new(ws.path("cache")).with_stop(stop);
    let err = cache.fetch("slow", &drip.url()).map(|_| ()).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("deadline"), "{text}");
}

#[test]
fn a_second_fetch_into_a_clone_being_fetched_is_refused() {
    let ws = Workspace::new();
    let _up = big_upstream(&ws);
    let daemon = git_daemon(&ws.path("served"));
    // Shut: the first fetch connects and then hears nothing, holding the clone's lock.
    let drip = Drip::new(daemon.port, false);
    let stop = FetchStop::new();
    let first = Cache::new(ws.path("cache")).with_stop(stop.clone());
    let url = drip.url();
    let fetch = std::thread::spawn(move || first.fetch("slow", &url).map(|_| ()));
    wait::wait_for("the first fetch to connect", wait::CEILING, || {
        (drip.connections.load(Ordering::SeqCst) > 0).then_some(())
    });

    let direct = format!("git://127.0.0.1:{}/upstream.git", daemon.port);
    let second = Cache::new(ws.path("cache"));
    let err = second.fetch("slow", &direct).map(|_| ()).unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("another fetch into the cache clone of slow"),
        "{text}"
    );
    // Another server's clone is not held by it.
    second.fetch("other", &direct).unwrap();

    // The first one ends (cancelled once data flows again), and the clone is free again.
    stop.cancel();
    drip.open.store(true, Ordering::SeqCst);
    let first_err = fetch.join().unwrap().unwrap_err();
    assert!(
        format!("{first_err:#}").contains("cancelled"),
        "{first_err:#}"
    );
    let fetched = second.fetch("slow", &direct).unwrap();
    assert_eq!(fetched.tags.len(), 1);
}
