//! Reading a credential value: from stdin when piped, else a hidden prompt on the terminal.
//! Never from argv, which every process on the machine can read.

use std::io::{IsTerminal, Read};

use anyhow::{Context, Result, bail};
use keygate_vault::MAX_VALUE_LEN;
use secrecy::SecretString;
use zeroize::Zeroizing;

/// Read the value for credential `name`.
pub fn read_value(name: &str) -> Result<SecretString> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let typed = rpassword::prompt_password(format!("Value for {name} (input hidden): "))
            .context("cannot read the value from the terminal")?;
        return Ok(SecretString::from(typed));
    }
    let mut bytes = Zeroizing::new(Vec::new());
    stdin.lock().take(MAX_VALUE_LEN as u64 + 3).read_to_end(&mut bytes).context("cannot read the value from stdin")?;
    strip_one_newline(&mut bytes);
    if bytes.len() > MAX_VALUE_LEN {
        bail!("invalid credential value: it is longer than the {MAX_VALUE_LEN} bytes allowed");
    }
    let text = std::str::from_utf8(&bytes).context("invalid credential value: it is not UTF-8 text")?;
    Ok(SecretString::from(text))
}

/// `echo` and here-strings add a newline that is not part of the key.
fn strip_one_newline(bytes: &mut Zeroizing<Vec<u8>>) {
    let len = bytes.len();
    if bytes.ends_with(b"\r\n") {
        bytes.truncate(len - 2);
    } else if bytes.ends_with(b"\n") {
        bytes.truncate(len - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_exactly_one_trailing_newline() {
        for (input, expected) in [(&b"k\n"[..], &b"k"[..]), (b"k\r\n", b"k"), (b"k\n\n", b"k\n"), (b"k", b"k")] {
            let mut bytes = Zeroizing::new(input.to_vec());
            strip_one_newline(&mut bytes);
            assert_eq!(bytes.as_slice(), expected);
        }
    }
}
