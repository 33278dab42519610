//! `keygate server add` and `remove`: config.toml edited in place, secrets kept off argv.

mod common;

use common::{Kg, assert_fails};
use keygate_mcp::{Config, Setting, Transport};

const GITHUB: &[&str] = &[
    "server",
    "add",
    "github",
    "--secret-env",
    "GITHUB_PERSONAL_ACCESS_TOKEN=github_token",
    "--env",
    "GITHUB_TOOLSETS=repos,issues",
    "--idle-minutes",
    "10",
    "--",
    "npx",
    "-y",
    "@modelcontextprotocol/server-github",
];

impl Kg {
    fn config_text(&self) -> String {
        std::fs::read_to_string(self.home().join("config.toml")).expect("read config.toml")
    }

    fn write_config(&self, text: &str) {
        std::fs::create_dir_all(self.home()).expect("home");
        std::fs::write(self.home().join("config.toml"), text).expect("write config.toml");
    }

    fn config(&self) -> Config {
        Config::load(&self.home().join("config.toml")).expect("config.toml is valid")
    }
}

#[test]
fn a_stdio_server_is_added_then_removed_leaving_the_file_as_it_was() {
    let kg = Kg::headless();
    kg.init();
    let original = kg.config_text();
    let out = kg.run(GITHUB);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, "Added server github (stdio: npx); its tools appear as github_<tool>\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("credential github_token is not in the vault yet"), "{stderr}");

    let config = kg.config();
    let github = config.server("github").expect("github");
    let Transport::Stdio { command, args, env } = &github.transport else { panic!("stdio") };
    assert_eq!(command, "npx");
    assert_eq!(args, &["-y", "@modelcontextprotocol/server-github"]);
    assert_eq!(env[0].1, Setting::Credential { credential: "github_token".into(), prefix: String::new() });
    assert_eq!(env[1], ("GITHUB_TOOLSETS".to_string(), Setting::Plain("repos,issues".into())));
    assert!(config.tool("web_search").is_some(), "the default tool is kept");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(kg.home().join("config.toml")).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    assert!(kg.ok(&["server", "remove", "github", "--yes"]).starts_with("Removed server github from "));
    assert_eq!(kg.config_text(), original);
}

#[test]
fn a_remote_server_takes_its_secret_header_from_the_vault() {
    let kg = Kg::headless();
    kg.init();
    kg.ok_with_stdin(&["cred", "add", "notion_key"], b"secret-notion-value\n");
    let args = [
        "server",
        "add",
        "notion",
        "--url",
        "https://mcp.notion.example/mcp",
        "--secret-header",
        "Authorization=notion_key",
        "--header-prefix",
        "Bearer ",
        "--header",
        "Notion-Version=2025-09-03",
        "--timeout-secs",
        "30",
    ];
    let out = kg.run(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Added server notion (remote: mcp.notion.example); its tools appear as notion_<tool>\n"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "the credential is in the vault: no warning");

    let config = kg.config();
    let notion = config.server("notion").expect("notion");
    let Transport::Http { url, headers } = &notion.transport else { panic!("http") };
    assert_eq!(url.as_str(), "https://mcp.notion.example/mcp");
    let by_name = |name: &str| headers.iter().find(|(h, _)| h.as_str() == name).map(|(_, s)| s.clone());
    assert_eq!(
        by_name("authorization"),
        Some(Setting::Credential { credential: "notion_key".into(), prefix: "Bearer ".into() })
    );
    assert_eq!(by_name("notion-version"), Some(Setting::Plain("2025-09-03".into())));
    assert_eq!(notion.timeout.as_secs(), 30);
    assert!(!kg.config_text().contains("secret-notion-value"));
}

#[test]
fn comments_in_a_hand_written_config_survive() {
    let kg = Kg::headless();
    let hand_written = "# Mine, do not lose these notes\n\n[listen]\nbind = \"127.0.0.1:7450\"   # 7447 is taken\n\n\
                        # Local servers\n[[server]]\nname = \"files\"  # the file system one\ncommand = \"mcp-files\"\n\
                        args = [\"/home/me/notes\"]\n\n# the end\n";
    kg.write_config(hand_written);
    kg.ok(GITHUB);
    let added = kg.config_text();
    let kept_in_order: Vec<usize> =
        hand_written.lines().filter(|line| !line.is_empty()).map(|line| added.find(line).expect(line)).collect();
    assert!(kept_in_order.is_sorted(), "{added}");
    assert!(added.find("name = \"github\"") > added.find("name = \"files\""), "after the last server: {added}");
    assert!(added.find("name = \"github\"") < added.find("# the end"), "before the closing comment: {added}");
    assert_eq!(kg.config().servers.len(), 2);
    kg.ok(&["server", "remove", "github", "--yes"]);
    assert_eq!(kg.config_text(), hand_written);
}

#[test]
fn a_secret_looking_plain_value_is_refused_without_being_echoed() {
    let kg = Kg::headless();
    kg.init();
    let before = kg.config_text();
    let cases: [&[&str]; 3] = [
        &["server", "add", "github", "--env", "GITHUB_TOKEN=ghp_leaky123", "--", "npx"],
        &["server", "add", "api", "--url", "https://api.example/mcp", "--header", "Authorization=Bearer ghp_leaky123"],
        &["server", "add", "github", "--secret-env", "GITHUB_TOKEN=ghp_LEAKY123", "--", "npx"],
    ];
    for args in cases {
        let out = kg.run(args);
        assert_fails(&out, 2, "keygate cred add NAME");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.to_lowercase().contains("leaky123"), "value echoed: {stderr}");
        assert!(out.stdout.is_empty());
        assert_eq!(kg.config_text(), before, "config.toml changed");
    }
    let stderr = String::from_utf8_lossy(&kg.run(cases[0]).stderr).to_string();
    assert!(stderr.contains("--secret-env GITHUB_TOKEN=NAME"), "{stderr}");
}

#[test]
fn a_duplicate_or_a_bad_name_leaves_the_file_untouched() {
    let kg = Kg::headless();
    kg.init();
    kg.ok(GITHUB);
    let before = kg.config_text();
    assert_fails(&kg.run(GITHUB), 1, "server github is already in config.toml");
    assert_fails(&kg.run(&["server", "add", "git_hub", "--", "npx"]), 1, "server name \"git_hub\" is invalid");
    assert_fails(&kg.run(&["server", "add", "ok", "--url", "ftp://x.example/mcp"]), 1, "http:// or https://");
    assert_fails(&kg.run(&["server", "remove", "gitlab"]), 1, "no server \"gitlab\" in config.toml: it has github");
    assert_fails(&kg.run(&["server", "add", "x", "--env", "A=1"]), 2, "<COMMAND>");
    assert_eq!(kg.config_text(), before);
}

#[test]
fn an_old_style_server_table_becomes_listen() {
    let kg = Kg::headless();
    kg.write_config("# written by keygate 0.0\n[server]\nbind = \"127.0.0.1:7451\" # my port\n");
    kg.ok(GITHUB);
    let text = kg.config_text();
    assert!(
        text.starts_with("# written by keygate 0.0\n[listen]\nbind = \"127.0.0.1:7451\" # my port\n\n[[server]]\n"),
        "{text}"
    );
    let config = kg.config();
    assert_eq!((config.bind.port(), config.servers.len()), (7451, 1));
}
