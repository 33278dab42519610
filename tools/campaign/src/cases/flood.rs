//! Case 7: a flood of bad tokens at `keygate serve` while a good client calls a tool. The good
//! client's p99 is measured idle first, then under the flood, in the same run; every good
//! call must be answered, every bad one refused (401, or 429 once the failure bucket is
//! spent), and the audit must stay small. The flood comes from keep-alive connections on a
//! runtime of its own, the good client from a thread of its own, each with its own HTTP/1.1
//! connection code (`http.rs`), so neither queues behind the other inside this process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::chains_verify;
use crate::Ctx;
use crate::home::random_below;
use crate::http::{Conn, percentile};
use crate::report::Outcome;

/// The case, as the table names it.
pub const NAME: &str = "7 bad-token flood vs a good client's p99";

/// Flood connections.
const CONNECTIONS: u64 = 32;
/// The good client's pace: one call per this long.
const GOOD_EVERY: Duration = Duration::from_millis(20);

/// Durations and rate.
#[derive(Debug)]
pub struct Settings {
    pub secs: u64,
    pub rate: u64,
    pub idle_secs: u64,
}

/// The flood's count of answers by kind.
#[derive(Default)]
struct Counts {
    unauthorized: AtomicU64,
    limited: AtomicU64,
    other: AtomicU64,
    failed: AtomicU64,
}

/// The good client's latencies (µs) and failures.
struct Good {
    samples: Vec<u64>,
    failed: u64,
}

pub fn run(ctx: &Ctx, settings: &Settings) -> Result<Outcome> {
    let mut outcome = Outcome::new(NAME);
    let (home, token) = ctx.echo_home("sk-flood-0")?;
    let (serve, addr) = home.serve()?;
    let idle = good_client(&addr, &token, Duration::from_secs(settings.idle_secs))?;

    let flood_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| flood_rt.spawn(flood_connection(addr.clone(), settings.rate, counts.clone(), stop.clone())))
        .collect();
    let flooded = good_client(&addr, &token, Duration::from_secs(settings.secs))?;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = flood_rt.block_on(task);
    }
    let elapsed = started.elapsed().as_secs_f64();
    drop(flood_rt);

    let sent = counts.unauthorized.load(Ordering::Relaxed) + counts.limited.load(Ordering::Relaxed);
    outcome.tries = sent + counts.other.load(Ordering::Relaxed);
    if counts.other.load(Ordering::Relaxed) > 0 {
        outcome.fail(format!("{} bad-token requests were not refused", counts.other.load(Ordering::Relaxed)));
    }
    for (phase, good) in [("idle", &idle), ("under the flood", &flooded)] {
        if good.failed > 0 {
            outcome.fail(format!("{} good calls {phase} failed", good.failed));
        }
    }
    let (mut idle_samples, mut flood_samples) = (idle.samples, flooded.samples);
    let (idle_p99, flood_p99) = (percentile(&mut idle_samples, 99.0), percentile(&mut flood_samples, 99.0));
    let achieved = sent as f64 / elapsed;
    if ctx.judge_timing {
        if flood_p99 > 2 * idle_p99 {
            outcome.fail(format!("good p99 {flood_p99} µs under the flood, more than 2x idle {idle_p99} µs"));
        }
        if achieved < settings.rate as f64 * 0.9 {
            outcome.fail(format!("the flood reached {achieved:.0}/s, short of {}/s", settings.rate));
        }
    }
    if !serve.stop()? {
        outcome.fail("`keygate serve` did not stop cleanly");
    }
    chains_verify(&home, &mut outcome, "after the flood")?;
    let audit = home.json(&["audit", "--json"])?;
    let denied: Vec<&serde_json::Value> =
        audit.as_array().map_or(Vec::new(), |rows| rows.iter().filter(|r| r["decision"] == "denied").collect());
    let denied_count: i64 = denied.iter().map(|r| r["count"].as_i64().unwrap_or(1)).sum();
    if denied_count as u64 != outcome.tries {
        outcome.fail(format!("{} bad requests sent, {denied_count} counted in the audit", outcome.tries));
    }
    outcome.figure = format!(
        "{achieved:.0} bad/s for {elapsed:.0} s ({} x 401, {} x 429, {} conn errors); good p99 idle {:.2} ms, \
         flooded {:.2} ms ({:.2}x; p50 {:.2} -> {:.2} ms); audit: {} denied rows counting {denied_count}",
        counts.unauthorized.load(Ordering::Relaxed),
        counts.limited.load(Ordering::Relaxed),
        counts.failed.load(Ordering::Relaxed),
        idle_p99 as f64 / 1000.0,
        flood_p99 as f64 / 1000.0,
        flood_p99 as f64 / idle_p99.max(1) as f64,
        percentile(&mut idle_samples, 50.0) as f64 / 1000.0,
        percentile(&mut flood_samples, 50.0) as f64 / 1000.0,
        denied.len()
    );
    Ok(outcome)
}

/// Call `echo` once per `GOOD_EVERY` for `secs`, from a thread and runtime of its own.
fn good_client(addr: &str, token: &str, duration: Duration) -> Result<Good> {
    let (addr, token) = (addr.to_string(), token.to_string());
    let thread = std::thread::spawn(move || -> Result<Good> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(async move {
            let mut conn = Conn::new(&addr);
            let mut good = Good { samples: Vec::new(), failed: 0 };
            let until = Instant::now() + duration;
            let mut next = tokio::time::Instant::now();
            while Instant::now() < until {
                let started = Instant::now();
                match conn.call(&token, "echo").await {
                    Ok(answer) if answer.call_succeeded() => good.samples.push(started.elapsed().as_micros() as u64),
                    _ => good.failed += 1,
                }
                next += GOOD_EVERY;
                tokio::time::sleep_until(next).await;
            }
            Ok(good)
        })
    });
    thread.join().map_err(|_| anyhow::anyhow!("the good client panicked"))?
}

/// One flood connection: bad tokens (unknown ids) at `rate / CONNECTIONS` per second.
async fn flood_connection(addr: String, rate: u64, counts: Arc<Counts>, stop: Arc<AtomicBool>) {
    let every = Duration::from_secs_f64(CONNECTIONS as f64 / rate.max(1) as f64);
    let tokens: Vec<String> = (0..16).map(|_| bad_token()).collect();
    let mut conn = Conn::new(&addr);
    let mut next = tokio::time::Instant::now();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let counter = match conn.call(&tokens[i % tokens.len()], "echo").await {
            Ok(answer) if answer.status == 401 => &counts.unauthorized,
            Ok(answer) if answer.status == 429 => &counts.limited,
            Ok(_) => &counts.other,
            Err(_) => &counts.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        next += every;
        // Behind schedule: send at once (no sleep) until caught up.
        tokio::time::sleep_until(next).await;
    }
}

/// A well-formed token no vault issued.
fn bad_token() -> String {
    let hex = |n: usize| (0..n).map(|_| format!("{:x}", random_below(16))).collect::<String>();
    format!("kg_{}_{}", hex(16), hex(64))
}
