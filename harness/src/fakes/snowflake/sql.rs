//! Snowflake SQL as the fake reads it: a lexer for what Snowflake documents
//! (unquoted words upper-cased, double-quoted identifiers with `""`,
//! single-quoted strings with `''` and backslash escapes, `$$` strings,
//! `--` and `/* */` comments) and a strict parser of the few statements the
//! fake runs. Anything else is refused with Snowflake's code and message.
//! `rotate-snowflake-user`'s quoting is property-tested against it.

/// A statement the fake understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    DescUser {
        user: String,
    },
    SetPassword {
        user: String,
        password: String,
    },
    /// `ALTER USER u SET RSA_PUBLIC_KEY[_2] = '<base64 DER>'`: `slot` 0 or 1.
    SetKey {
        user: String,
        slot: usize,
        key: String,
    },
    /// `ALTER USER u UNSET RSA_PUBLIC_KEY[_2]`.
    UnsetKey {
        user: String,
        slot: usize,
    },
    /// `SELECT CURRENT_USER()`.
    CurrentUser,
}

/// One token of a statement, with the position it starts at (1-based, as
/// Snowflake counts in its errors).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An unquoted word, upper-cased as Snowflake resolves it.
    Word(String),
    /// A double-quoted identifier, as it is.
    Quoted(String),
    /// A string literal, its escapes read.
    Text(String),
    Symbol(char),
}

/// Splits `sql` into tokens as Snowflake's lexer does, or says where it
/// cannot.
fn lex(sql: &str) -> Result<Vec<(usize, Token)>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            c if c.is_whitespace() => i += 1,
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(format!("unterminated comment at position {start}"));
                }
                i += 2;
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated identifier at position {start}")),
                        Some('"') if chars.get(i + 1) == Some(&'"') => {
                            text.push('"');
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            text.push(c);
                            i += 1;
                        }
                    }
                }
                tokens.push((start, Token::Quoted(text)));
            }
            '\'' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated string at position {start}")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            text.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let (c, used) = escape(&chars[i + 1..])
                                .ok_or_else(|| format!("bad escape at position {i}"))?;
                            text.push(c);
                            i += 1 + used;
                        }
                        Some(&c) => {
                            text.push(c);
                            i += 1;
                        }
                    }
                }
                tokens.push((start, Token::Text(text)));
            }
            '$' if chars.get(i + 1) == Some(&'$') => {
                let rest: String = chars[i + 2..].iter().collect();
                let Some(end) = rest.find("$$") else {
                    return Err(format!("unterminated string at position {start}"));
                };
                tokens.push((start, Token::Text(rest[..end].to_owned())));
                i += 2 + rest[..end].chars().count() + 2;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push((start, Token::Word(word.to_ascii_uppercase())));
            }
            '=' | ';' | '?' | ',' | '(' | ')' => {
                tokens.push((start, Token::Symbol(c)));
                i += 1;
            }
            _ => return Err(format!("unexpected '{c}' at position {start}")),
        }
    }
    Ok(tokens)
}

/// One escape sequence of a single-quoted string (after the `\`): the
/// character and how many characters it took.
fn escape(rest: &[char]) -> Option<(char, usize)> {
    let hex = |digits: &[char]| {
        let text: String = digits.iter().collect();
        u32::from_str_radix(&text, 16).ok().and_then(char::from_u32)
    };
    let first = *rest.first()?;
    Some(match first {
        'n' => ('\n', 1),
        't' => ('\t', 1),
        'r' => ('\r', 1),
        'b' => ('\u{8}', 1),
        'f' => ('\u{c}', 1),
        '0'..='7' => {
            let digits: String = rest.iter().take(3).take_while(|c| c.is_digit(8)).collect();
            let value = u32::from_str_radix(&digits, 8).ok()?;
            (char::from_u32(value)?, digits.len())
        }
        'x' => (hex(rest.get(1..3)?)?, 3),
        'u' => (hex(rest.get(1..5)?)?, 5),
        other => (other, 1),
    })
}

/// Parses one statement the fake understands, or says why Snowflake would
/// refuse it: `Err` holds Snowflake's code and message.
pub fn parse_statement(sql: &str) -> Result<Statement, (String, String)> {
    let syntax = |position: usize, near: &str| {
        (
            "001003".to_owned(),
            format!(
                "SQL compilation error:\nsyntax error line 1 at position {position} unexpected \
                 '{near}'."
            ),
        )
    };
    let tokens =
        lex(sql).map_err(|e| ("001003".to_owned(), format!("SQL compilation error:\n{e}")))?;
    let mut statements = tokens.split(|(_, t)| *t == Token::Symbol(';'));
    let first = statements.next().unwrap_or_default();
    let more = statements.filter(|s| !s.is_empty()).count();
    if more > 0 {
        return Err((
            "000008".into(),
            format!(
                "Actual statement count {} did not match the desired statement count 1.",
                more + 1
            ),
        ));
    }
    let word =
        |t: Option<&(usize, Token)>, w: &str| matches!(t, Some((_, Token::Word(x))) if x == w);
    let mut at = 0;
    let expect = |w: &str, at: &mut usize| -> Result<(), (String, String)> {
        if word(first.get(*at), w) {
            *at += 1;
            Ok(())
        } else {
            let (position, near) = near(first, *at);
            Err(syntax(position, &near))
        }
    };
    let identifier = |at: &mut usize| match first.get(*at) {
        Some((_, Token::Word(w))) => {
            *at += 1;
            Ok(w.clone())
        }
        Some((_, Token::Quoted(q))) if !q.is_empty() => {
            *at += 1;
            Ok(q.clone())
        }
        _ => {
            let (position, near) = near(first, *at);
            Err(syntax(position, &near))
        }
    };
    let statement = if word(first.first(), "DESC") || word(first.first(), "DESCRIBE") {
        at += 1;
        expect("USER", &mut at)?;
        Statement::DescUser {
            user: identifier(&mut at)?,
        }
    } else if word(first.first(), "ALTER") {
        at += 1;
        expect("USER", &mut at)?;
        if word(first.get(at), "IF") {
            at += 1;
            expect("EXISTS", &mut at)?;
        }
        let user = identifier(&mut at)?;
        let slot_of = |t: Option<&(usize, Token)>| match t {
            Some((_, Token::Word(w))) if w == "RSA_PUBLIC_KEY" => Some(0),
            Some((_, Token::Word(w))) if w == "RSA_PUBLIC_KEY_2" => Some(1),
            _ => None,
        };
        if word(first.get(at), "UNSET") {
            at += 1;
            let Some(slot) = slot_of(first.get(at)) else {
                let (position, near) = near(first, at);
                return Err(syntax(position, &near));
            };
            at += 1;
            Statement::UnsetKey { user, slot }
        } else {
            expect("SET", &mut at)?;
            let slot = slot_of(first.get(at));
            if slot.is_none() {
                expect("PASSWORD", &mut at)?;
            } else {
                at += 1;
            }
            if first.get(at).map(|(_, t)| t) != Some(&Token::Symbol('=')) {
                let (position, near) = near(first, at);
                return Err(syntax(position, &near));
            }
            at += 1;
            let value = match first.get(at) {
                Some((_, Token::Text(t))) => t.clone(),
                Some((_, Token::Symbol('?'))) => {
                    return Err((
                        "002049".into(),
                        "SQL compilation error: bind variables are not supported here".into(),
                    ));
                }
                _ => {
                    let (position, near) = near(first, at);
                    return Err(syntax(position, &near));
                }
            };
            at += 1;
            match slot {
                Some(slot) => Statement::SetKey {
                    user,
                    slot,
                    key: value,
                },
                None => Statement::SetPassword {
                    user,
                    password: value,
                },
            }
        }
    } else if word(first.first(), "SELECT") {
        at += 1;
        expect("CURRENT_USER", &mut at)?;
        for symbol in ['(', ')'] {
            if first.get(at).map(|(_, t)| t) != Some(&Token::Symbol(symbol)) {
                let (position, near) = near(first, at);
                return Err(syntax(position, &near));
            }
            at += 1;
        }
        Statement::CurrentUser
    } else {
        let (position, near) = near(first, 0);
        return Err(syntax(position, &near));
    };
    if at < first.len() {
        let (position, near) = near(first, at);
        return Err(syntax(position, &near));
    }
    Ok(statement)
}

/// Where a syntax error is, and the token Snowflake's message quotes.
fn near(tokens: &[(usize, Token)], at: usize) -> (usize, String) {
    match tokens.get(at) {
        Some((position, token)) => (
            *position,
            match token {
                Token::Word(w) | Token::Quoted(w) | Token::Text(w) => w.clone(),
                Token::Symbol(c) => c.to_string(),
            },
        ),
        None => (0, "<EOF>".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_read_as_snowflake_reads_them() {
        assert_eq!(
            parse_statement("desc user bob"),
            Ok(Statement::DescUser { user: "BOB".into() })
        );
        assert_eq!(
            parse_statement(r#"ALTER USER IF EXISTS "a""b" SET PASSWORD = 'x''y\\z\n';"#),
            Ok(Statement::SetPassword {
                user: "a\"b".into(),
                password: "x'y\\z\n".into()
            })
        );
        assert_eq!(
            parse_statement("ALTER USER bob SET PASSWORD = $$it's$$ -- note"),
            Ok(Statement::SetPassword {
                user: "BOB".into(),
                password: "it's".into()
            })
        );
    }

    #[test]
    fn the_key_statements_name_their_slot() {
        assert_eq!(
            parse_statement("ALTER USER \"SVC\" SET RSA_PUBLIC_KEY_2 = 'MIIB+/='"),
            Ok(Statement::SetKey {
                user: "SVC".into(),
                slot: 1,
                key: "MIIB+/=".into()
            })
        );
        assert_eq!(
            parse_statement("alter user svc unset rsa_public_key"),
            Ok(Statement::UnsetKey {
                user: "SVC".into(),
                slot: 0
            })
        );
        assert_eq!(
            parse_statement("SELECT CURRENT_USER()"),
            Ok(Statement::CurrentUser)
        );
    }

    #[test]
    fn an_injected_statement_or_anything_else_is_refused() {
        for bad in [
            "ALTER USER bob SET PASSWORD = 'x'; DROP USER admin",
            "ALTER USER bob SET PASSWORD = 'x' DEFAULT_ROLE = 'ACCOUNTADMIN'",
            "ALTER USER bob SET PASSWORD = 'x",
            "ALTER USER bob SET PASSWORD = ?",
            "DROP USER bob",
            "DESC USER",
            "ALTER USER bob SET RSA_PUBLIC_KEY_3 = 'MII'",
            "ALTER USER bob UNSET RSA_PUBLIC_KEY = 'MII'",
            "ALTER USER bob UNSET PASSWORD",
            "ALTER USER bob SET RSA_PUBLIC_KEY = MII",
            "SELECT CURRENT_USER(); DROP USER bob",
            "SELECT CURRENT_ROLE()",
        ] {
            assert!(parse_statement(bad).is_err(), "{bad:?}");
        }
    }
}
