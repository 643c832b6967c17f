//! Quoting a user name and a password into Snowflake SQL.
//!
//! Why quoting and not bind variables: Snowflake documents bind variables
//! (`?` with the SQL API's `bindings`) for values in queries and DML, and
//! `IDENTIFIER(?)` for object names, but not for the value of a property in
//! `ALTER USER … SET PASSWORD = …`; a statement Snowflake may refuse, or
//! take differently than documented, is no base for a rotation. Keeper's
//! script interpolated both as they were (`ALTER USER {user} SET PASSWORD =
//! '{password}'`): a quote in the password broke the statement, or wrote
//! another one. Here each goes through one function that quotes what it can
//! and refuses what it cannot; both are property-tested against the fake's
//! lexer (`harness::fakes::snowflake`), which reads SQL as Snowflake
//! documents it.

/// The longest identifier Snowflake takes (characters).
pub const MAX_IDENTIFIER: usize = 255;

/// The longest password Snowflake takes (characters).
pub const MAX_PASSWORD: usize = 256;

/// Whether `c` cannot be quoted: a control character (a line break, NUL,
/// an escape) or a Unicode line or paragraph separator. Snowflake would
/// read some of them, but a name or password holding one is a mistake in
/// the record, and none could be shown in a message.
fn unquotable(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `name` as a Snowflake identifier. A name Snowflake would take unquoted
/// (a letter or `_`, then letters, digits, `_` and `$`) means what it means
/// unquoted, as it did in Keeper's script: Snowflake upper-cases it, so it
/// is quoted upper-cased (`bob` is `"BOB"`). Any other name (`bob.smith@x`,
/// created as `"bob.smith@x"`) is quoted as it is, each `"` doubled.
/// Refused: empty, longer than [`MAX_IDENTIFIER`], or holding a control
/// character.
pub fn identifier(name: &str) -> Result<String, &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.chars().count() > MAX_IDENTIFIER {
        return Err("it is longer than the 255 characters of a Snowflake identifier");
    }
    if name.chars().any(unquotable) {
        return Err("it holds a control character");
    }
    if is_unquoted_identifier(name) {
        return Ok(format!("\"{}\"", name.to_ascii_uppercase()));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// The NAME Snowflake stores for the user `name` names (what `DESC USER`
/// shows): upper-cased when Snowflake takes it unquoted, else as written.
pub fn stored_name(name: &str) -> String {
    if is_unquoted_identifier(name) {
        name.to_ascii_uppercase()
    } else {
        name.to_owned()
    }
}

/// Whether Snowflake reads `name` as an identifier without quotes.
pub fn is_unquoted_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// `text` as a Snowflake string literal: in single quotes, each `\` doubled
/// (Snowflake reads escape sequences in single-quoted strings) and each `'`
/// doubled. Refused: longer than [`MAX_PASSWORD`] or holding a control
/// character. The literal holds a secret when `text` is one: build it in
/// zeroizing memory.
pub fn string_literal(text: &str, out: &mut String) -> Result<(), &'static str> {
    if text.chars().count() > MAX_PASSWORD {
        return Err("it is longer than the 256 characters Snowflake takes");
    }
    if text.chars().any(unquotable) {
        return Err("it holds a control character (a line break, a tab)");
    }
    // Room for every character doubled: a reallocation part way would
    // leave a copy of the secret in freed memory.
    out.reserve(2 * text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_snowflake_takes_unquoted_is_quoted_upper_cased_as_snowflake_reads_it() {
        assert_eq!(identifier("bob").as_deref(), Ok("\"BOB\""));
        assert_eq!(identifier("svc_etl$1").as_deref(), Ok("\"SVC_ETL$1\""));
        assert_eq!(identifier("Bob.Smith@x").as_deref(), Ok("\"Bob.Smith@x\""));
        assert_eq!(identifier("a\"b").as_deref(), Ok("\"a\"\"b\""));
        assert_eq!(identifier("1abc").as_deref(), Ok("\"1abc\""));
    }

    #[test]
    fn what_cannot_be_quoted_is_refused() {
        for bad in ["", "a\nb", "a\u{0}b", "a\u{2028}", &"x".repeat(256)] {
            assert!(identifier(bad).is_err(), "{bad:?}");
        }
        let mut out = String::new();
        for bad in ["a\nb", "\t", "a\u{0}", &"x".repeat(257)] {
            assert!(string_literal(bad, &mut out).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quotes_and_backslashes_are_doubled_in_a_string_literal() {
        let mut out = String::new();
        string_literal(r"a'b\c$$", &mut out).expect("quotable");
        assert_eq!(out, r"'a''b\\c$$'");
    }

    mod properties {
        use harness::fakes::snowflake::{Statement, parse_statement};
        use proptest::prelude::*;

        use super::super::*;

        fn statement(user: &str, password: &str) -> String {
            let mut sql = format!(
                "ALTER USER {} SET PASSWORD = ",
                identifier(user).expect("q")
            );
            string_literal(password, &mut sql).expect("quotable");
            sql
        }

        proptest! {
            /// Whatever the name and password (any printable Unicode,
            /// quotes, backslashes, semicolons, `$$`), the statement is one
            /// ALTER USER naming that user (upper-cased when Snowflake takes
            /// it unquoted) and setting exactly that password.
            #[test]
            fn any_quotable_name_and_password_read_back_as_they_were(
                user in "[^\\p{Cc}\u{2028}\u{2029}]{1,40}",
                password in "[^\\p{Cc}\u{2028}\u{2029}]{0,60}",
            ) {
                let parsed = parse_statement(&statement(&user, &password));
                let expected_user = if is_unquoted_identifier(&user) {
                    user.to_ascii_uppercase()
                } else {
                    user.clone()
                };
                prop_assert_eq!(
                    parsed,
                    Ok(Statement::SetPassword { user: expected_user, password })
                );
            }

            /// Text with a control character anywhere is refused, never
            /// quoted.
            #[test]
            fn any_text_with_a_control_character_is_refused(
                head in "[a-z'\\\\]{0,8}",
                control in "\\p{Cc}",
                tail in "[a-z'\\\\]{0,8}",
            ) {
                let text = format!("{head}{control}{tail}");
                prop_assert!(identifier(&text).is_err());
                prop_assert!(string_literal(&text, &mut String::new()).is_err());
            }
        }
    }
}
