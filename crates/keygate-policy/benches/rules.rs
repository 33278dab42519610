//! Rule evaluation: a tool with 5 rules (every operator kind) against typical arguments.
//! Goal (issue 14): at most 20 µs median per call. Also the parse, which the server does
//! once per distinct stored policy.

use criterion::{Criterion, criterion_group, criterion_main};
use keygate_policy::Policy;
use serde_json::json;

const RULES: [&str; 5] = [
    "github_create_issue: repo in [\"me/app\", \"me/lib\", \"me/site\"]",
    "github_create_issue: repo ~ \"me/*\"",
    "github_create_issue: labels.0 != \"security\"",
    "github_create_issue: has title",
    "github_create_issue: body.length <= 4000",
];

fn five_rules(c: &mut Criterion) {
    let policy = Policy::parse(&RULES).expect("the bench's rules parse");
    let arguments = json!({
        "repo": "me/lib",
        "title": "The build fails on Windows",
        "labels": ["bug", "ci"],
        "body": {"length": 812, "text": "Steps to reproduce: ..."}
    });
    let arguments = arguments.as_object().cloned().expect("object");
    assert!(policy.check("github_create_issue", &arguments).is_ok(), "the bench's call passes");
    c.bench_function("check 5 rules (pass)", |b| {
        b.iter(|| policy.check(std::hint::black_box("github_create_issue"), std::hint::black_box(&arguments)))
    });
    let mut refused = arguments.clone();
    refused.insert("repo".into(), json!("you/app"));
    c.bench_function("check 5 rules (refused at the first)", |b| {
        b.iter(|| policy.check(std::hint::black_box("github_create_issue"), std::hint::black_box(&refused)))
    });
    c.bench_function("parse 5 rules", |b| b.iter(|| Policy::parse(std::hint::black_box(&RULES))));
}

criterion_group!(benches, five_rules);
criterion_main!(benches);
