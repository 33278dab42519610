//! One case's result and the table they make.

use std::io::Write;

/// What one case found.
#[derive(Debug)]
pub struct Outcome {
    /// The case, as the table names it.
    pub case: &'static str,
    /// How many times it was tried.
    pub tries: u64,
    /// Whether every try kept the promise.
    pub held: bool,
    /// The figure that goes with it (counts, a latency, ...).
    pub figure: String,
    /// What did not hold, one line each (at most a few per case).
    pub problems: Vec<String>,
}

impl Outcome {
    pub fn new(case: &'static str) -> Self {
        Self { case, tries: 0, held: true, figure: String::new(), problems: Vec::new() }
    }

    /// Record a broken promise; the first ten are kept word for word.
    pub fn fail(&mut self, problem: impl Into<String>) {
        self.held = false;
        if self.problems.len() < 10 {
            self.problems.push(problem.into());
        }
    }
}

/// Print the table, then every problem under it.
pub fn print(outcomes: &[Outcome]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<44} {:>6}  {:<4}  figure", "case", "tries", "held")?;
    for o in outcomes {
        let held = if o.held { "yes" } else { "NO" };
        writeln!(out, "{:<44} {:>6}  {:<4}  {}", o.case, o.tries, held, o.figure)?;
    }
    for o in outcomes.iter().filter(|o| !o.problems.is_empty()) {
        writeln!(out, "\n{}:", o.case)?;
        for problem in &o.problems {
            writeln!(out, "  - {problem}")?;
        }
    }
    out.flush()
}
