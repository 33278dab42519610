//! `keygate audit [verify | --jsonl --since DATE]` and `keygate log [verify]`: show, export
//! and verify the chained audit and rotation log.

use std::io::{BufWriter, Write};

use anyhow::{Result, anyhow};
use clap::{Args, Subcommand};
use keygate_vault::{ChainReport, Timestamp};

use crate::UsageError;
use crate::commands::open_vault;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<ChainCommand>,
    /// Print stable, machine-readable JSON
    #[arg(long, conflicts_with = "jsonl")]
    pub json: bool,
    /// Stream one JSON object per row, with its chain MAC and seal (for a SIEM)
    #[arg(long)]
    pub jsonl: bool,
    /// Only rows at or after this day (YYYY-MM-DD, UTC) or time (RFC 3339); needs --jsonl
    #[arg(long, value_name = "DATE", requires = "jsonl")]
    pub since: Option<String>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct LogArgs {
    #[command(subcommand)]
    pub command: Option<ChainCommand>,
    /// Print stable, machine-readable JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Check the chain: prints `ok, N rows`, or the first broken row and why (exit 1)
    Verify,
}

pub fn run_audit(args: AuditArgs) -> Result<()> {
    match args.command {
        Some(ChainCommand::Verify) => print_report("audit", open_vault()?.verify_audit()?),
        None if args.jsonl => export(args.since.as_deref()),
        None => crate::commands::show_audit(args.json),
    }
}

pub fn run_log(args: LogArgs) -> Result<()> {
    match args.command {
        Some(ChainCommand::Verify) => print_report("rotation log", open_vault()?.verify_rotation_log()?),
        None => crate::commands::show_log(args.json),
    }
}

fn print_report(what: &str, report: ChainReport) -> Result<()> {
    if report.is_intact() {
        crate::output::lines([report.to_string()])?;
        Ok(())
    } else {
        Err(anyhow!("the {what} chain is {report}: rows were changed without the master key"))
    }
}

fn export(since: Option<&str>) -> Result<()> {
    let since = since.map(parse_since).transpose()?;
    let vault = open_vault()?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut write_error: Option<std::io::Error> = None;
    let streamed = vault.export_audit(since, |record| {
        // serde_json escapes every control character, so a hostile tool name stays inert.
        let written =
            serde_json::to_string(&record).map_err(std::io::Error::other).and_then(|line| writeln!(out, "{line}"));
        written.map_err(|e| {
            // Stop the stream; the write error (a closed pipe, say) is reported below.
            write_error = Some(e);
            keygate_vault::VaultError::Busy
        })
    });
    if let Some(e) = write_error {
        return Err(e.into());
    }
    streamed?;
    out.flush()?;
    Ok(())
}

/// `2026-11-01` (midnight UTC) or an RFC 3339 time.
fn parse_since(text: &str) -> Result<Timestamp> {
    use time::format_description::well_known::Rfc3339;
    let at = parse_day(text)
        .map(|d| d.midnight().assume_utc())
        .or_else(|| time::OffsetDateTime::parse(text, &Rfc3339).ok())
        .ok_or(())
        .map_err(|_| {
            UsageError(format!(
                "--since {:?}: write a day as 2026-11-01 or a time as RFC 3339",
                text.chars().take(40).collect::<String>()
            ))
        })?;
    let millis = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MIN);
    Ok(Timestamp::from_unix_millis(millis))
}

fn parse_day(text: &str) -> Option<time::Date> {
    let mut parts = text.splitn(3, '-').map(str::parse::<i32>);
    let (year, month, day) = (parts.next()?.ok()?, parts.next()?.ok()?, parts.next()?.ok()?);
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()
}
