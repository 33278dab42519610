//! Token checks against 1k, 10k and 100k live tokens (and of tokens minted under a grant, and
//! after another connection's commit), and opening a credential, on a real
//! SQLite vault file. Run: `cargo bench -p keygate-vault --bench vault`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use keygate_vault::{
    Actor, AuditStart, CallOutcome, Decision, GrantRequest, Home, KeySource, MasterKey, SystemClock, TokenDecision,
    TokenRequest, Vault,
};
use secrecy::{ExposeSecret, SecretString};

/// How many issued tokens the benchmark cycles through, so no single row stays hot.
const SAMPLE: usize = 1000;

fn vault_with_tokens(dir: &std::path::Path, count: usize) -> (Vault, Vec<String>) {
    let home = Home::at(dir);
    // init consumes its key, so build the same key twice from one set of random bytes.
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("random");
    let key = || KeySource::Given(MasterKey::from_bytes(&bytes).expect("key"));
    Vault::init(&home, key(), &SystemClock).expect("init");
    let mut vault = Vault::open(&home, key(), Arc::new(SystemClock), Actor::Cli).expect("open");
    let request = TokenRequest {
        tools: vec!["web_search".into(), "github_issues".into()],
        ttl: Some(Duration::from_secs(24 * 3600)),
        label: Some("bench".into()),
    };
    let mut sample = Vec::with_capacity(SAMPLE);
    for i in 0..count {
        let issued = vault.issue_token(&request).expect("issue");
        if i % (count / SAMPLE).max(1) == 0 && sample.len() < SAMPLE {
            sample.push(issued.token.expose_secret().to_string());
        }
    }
    (vault, sample)
}

fn check_token(c: &mut Criterion) {
    let mut group = c.benchmark_group("check_token");
    for count in [1_000usize, 10_000, 100_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (vault, sample) = vault_with_tokens(dir.path(), count);
        let mut next = 0usize;
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, _| {
            b.iter(|| {
                next = (next + 1) % sample.len();
                let decision = vault.check_token(black_box(&sample[next]), Some("web_search")).expect("check");
                assert!(matches!(decision, TokenDecision::Allowed(_)));
            })
        });
    }
    group.finish();
}

/// The check when something was committed since the last one (here by another connection,
/// as the CLI would): the kept rows are dropped and the token is read from the file, as every
/// check did before rows were kept. Among 10k tokens; the commit itself is not timed.
fn check_token_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (vault, sample) = vault_with_tokens(dir.path(), 10_000);
    let other = rusqlite::Connection::open(dir.path().join("vault.db")).expect("open");
    // A new value each time: SQLite writes nothing for a row rewritten with the same bytes.
    let mut commit = other.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('bench', ?1)").expect("prepare");
    let (mut next, mut commits) = (0usize, 0i64);
    c.bench_function("check_token_read/10000", |b| {
        b.iter_batched(
            || {
                commits += 1;
                commit.execute([commits]).expect("commit")
            },
            |_| {
                next = (next + 1) % sample.len();
                let decision = vault.check_token(black_box(&sample[next]), Some("web_search")).expect("check");
                assert!(matches!(decision, TokenDecision::Allowed(_)));
            },
            criterion::BatchSize::PerIteration,
        )
    });
    assert!(vault.kept_row_reads() >= commits as u64, "every check after a commit read the file");
}

/// The same check for tokens minted under a grant (the grant is read with the token), among
/// 10k other tokens.
fn check_grant_token(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut vault, _) = vault_with_tokens(dir.path(), 10_000);
    let mut request = GrantRequest::new("bench", vec!["web_search".into(), "github_issues".into()]);
    request.token_ttl = Duration::from_secs(24 * 3600);
    vault.create_grant(&request).expect("grant");
    let sample: Vec<String> =
        (0..SAMPLE).map(|_| vault.mint_grant_token("bench").expect("mint").token.expose_secret().to_string()).collect();
    let mut next = 0usize;
    c.bench_function("check_grant_token", |b| {
        b.iter(|| {
            next = (next + 1) % sample.len();
            let decision = vault.check_token(black_box(&sample[next]), Some("web_search")).expect("check");
            assert!(matches!(decision, TokenDecision::Allowed(_)));
        })
    });
}

fn open_credential(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut vault, _) = vault_with_tokens(dir.path(), 1);
    vault.add_credential("scavio_api_key", &SecretString::from("sk-live-0123456789abcdef"), None).expect("add");
    c.bench_function("open_credential", |b| {
        b.iter(|| black_box(vault.open_credential(black_box("scavio_api_key")).expect("open")))
    });
}

/// The writes of one tool call: the audit row before the upstream request, then its outcome
/// and the token's use count after.
fn audit_call(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut vault, sample) = vault_with_tokens(dir.path(), 1);
    let token_id = keygate_vault::token_id(&sample[0]).expect("id").to_string();
    let start = allowed_call(&token_id);
    c.bench_function("audit_call", |b| {
        b.iter(|| {
            let id = vault.begin_audit(&start).expect("begin");
            vault.finish_call(id, &token_id, "200", Duration::from_millis(3)).expect("finish");
        })
    });
}

/// The audit row of an allowed `web_search` call by `token_id`.
fn allowed_call(token_id: &str) -> AuditStart<'_> {
    AuditStart {
        server: None,
        token_id: Some(token_id),
        tool: "web_search",
        credential: Some("scavio_api_key"),
        credential_version: Some(1),
        team_version: None,
        decision: Decision::Allowed,
        status: None,
    }
}

/// The same writes as the server makes them under load: each call's row before it, then the
/// outcomes of `BATCH` calls in one transaction. Reported per call.
fn audit_call_batched(c: &mut Criterion) {
    const BATCH: usize = 8;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut vault, sample) = vault_with_tokens(dir.path(), 1);
    let token_id = keygate_vault::token_id(&sample[0]).expect("id").to_string();
    let start = allowed_call(&token_id);
    let mut group = c.benchmark_group("audit_call_batched");
    group.throughput(criterion::Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::from_parameter(BATCH), |b| {
        b.iter(|| {
            let outcomes: Vec<CallOutcome> = (0..BATCH)
                .map(|_| CallOutcome {
                    audit: vault.begin_audit(&start).expect("begin"),
                    token_id: token_id.clone(),
                    status: "200".into(),
                    duration: Duration::from_millis(3),
                })
                .collect();
            vault.finish_calls(&outcomes).expect("finish");
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    audit_call,
    audit_call_batched,
    check_token,
    check_token_read,
    check_grant_token,
    open_credential
);
criterion_main!(benches);
