//! The `$filter` subset Graph accepts on users (graph-api.md §3.3): `eq`, `ne`, `in`,
//! comparison operators, `startsWith`/`endsWith`, `not`, `and`/`or`, lambda `any` over
//! `proxyAddresses` and `assignedLicenses`, and `/$count` on collections. Parsing is
//! separate from the capability check, which decides whether a clause needs advanced
//! query parameters, so that the exact 400 texts come from one place.

use serde_json::{Map, Value};

/// A literal in a filter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Literal {
    Text(String),
    Number(f64),
    Boolean(bool),
    Null,
    /// An unquoted GUID, as in `a/skuId eq 6fd2c87f-…`.
    Guid(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Comparison {
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

impl Comparison {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Equal => "eq",
            Self::NotEqual => "ne",
            Self::Greater => "gt",
            Self::GreaterOrEqual => "ge",
            Self::Less => "lt",
            Self::LessOrEqual => "le",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StringFunction {
    StartsWith,
    EndsWith,
}

/// A parsed filter expression. Paths are property names; inside a lambda the path starts
/// with the range variable (`p`, or `a/skuId`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expression {
    And(Box<Expression>, Box<Expression>),
    Or(Box<Expression>, Box<Expression>),
    Not(Box<Expression>),
    Compare {
        path: Vec<String>,
        operator: Comparison,
        value: Literal,
    },
    In {
        path: Vec<String>,
        values: Vec<Literal>,
    },
    Function {
        function: StringFunction,
        path: Vec<String>,
        value: String,
    },
    Any {
        collection: String,
        variable: String,
        body: Box<Expression>,
    },
    Count {
        collection: String,
        operator: Comparison,
        value: f64,
    },
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(f64),
    Open,
    Close,
    Comma,
    Colon,
    Slash,
}

/// A syntax error, reported as Graph's generic invalid-filter 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError(pub String);

fn tokenize(text: &str) -> Result<Vec<Token>, SyntaxError> {
    let characters: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        match character {
            ' ' | '\t' | '\n' | '\r' => index += 1,
            '(' => {
                tokens.push(Token::Open);
                index += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                index += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                index += 1;
            }
            ':' => {
                tokens.push(Token::Colon);
                index += 1;
            }
            '/' => {
                tokens.push(Token::Slash);
                index += 1;
            }
            '\'' => {
                let mut value = String::new();
                index += 1;
                loop {
                    match characters.get(index) {
                        None => return Err(SyntaxError("unterminated string literal".into())),
                        Some('\'') if characters.get(index + 1) == Some(&'\'') => {
                            value.push('\'');
                            index += 2;
                        }
                        Some('\'') => {
                            index += 1;
                            break;
                        }
                        Some(other) => {
                            value.push(*other);
                            index += 1;
                        }
                    }
                }
                tokens.push(Token::Text(value));
            }
            _ if character.is_ascii_alphanumeric()
                || matches!(character, '$' | '_' | '.' | '-' | '@') =>
            {
                let start = index;
                // A word that starts with a digit may be a date-time (2024-01-01T00:00:00Z),
                // whose colons belong to it.
                let numeric_start = character.is_ascii_digit();
                while index < characters.len()
                    && (characters[index].is_ascii_alphanumeric()
                        || matches!(characters[index], '$' | '_' | '.' | '-' | '@' | '+')
                        || (numeric_start && characters[index] == ':'))
                {
                    index += 1;
                }
                let word: String = characters[start..index].iter().collect();
                let looks_numeric = word
                    .chars()
                    .next()
                    .is_some_and(|first| first.is_ascii_digit() || first == '-')
                    && word.chars().skip(1).all(|c| c.is_ascii_digit() || c == '.');
                match word.parse::<f64>() {
                    Ok(number) if looks_numeric => tokens.push(Token::Number(number)),
                    _ => tokens.push(Token::Word(word)),
                }
            }
            other => return Err(SyntaxError(format!("unexpected character '{other}'"))),
        }
    }
    Ok(tokens)
}

/// The most comparisons, parentheses and `not`s one filter may hold. Parsing, evaluating and
/// dropping an expression recurse as deep as it nests, so without a bound a long query string
/// (`((((…` or `not not …` or thousands of `and`s) overflows a worker thread's stack and
/// aborts the whole emulator (found by the `odata_filter` fuzz target). Graph also refuses
/// overly complex filters with a 400; its exact limit is not in the reference.
const MAXIMUM_TERMS: usize = 100;

struct Parser {
    tokens: Vec<Token>,
    position: usize,
    terms: usize,
}

/// Parses a `$filter` value.
pub(crate) fn parse(text: &str) -> Result<Expression, SyntaxError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        position: 0,
        terms: 0,
    };
    let expression = parser.or_expression()?;
    if parser.position != parser.tokens.len() {
        return Err(SyntaxError("unexpected text after the expression".into()));
    }
    Ok(expression)
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    fn expect(&mut self, expected: &Token) -> Result<(), SyntaxError> {
        match self.next() {
            Some(token) if &token == expected => Ok(()),
            other => Err(SyntaxError(format!(
                "expected {expected:?}, found {other:?}"
            ))),
        }
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(word)) if word.eq_ignore_ascii_case(keyword))
    }

    fn or_expression(&mut self) -> Result<Expression, SyntaxError> {
        let mut left = self.and_expression()?;
        while self.peek_keyword("or") {
            self.position += 1;
            let right = self.and_expression()?;
            left = Expression::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expression(&mut self) -> Result<Expression, SyntaxError> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.position += 1;
            let right = self.unary()?;
            left = Expression::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expression, SyntaxError> {
        // Every comparison, parenthesis and `not` passes through here, and every `and`/`or`
        // joins two of them, so this one count bounds both the depth and the size.
        self.terms += 1;
        if self.terms > MAXIMUM_TERMS {
            return Err(SyntaxError(format!(
                "the filter has more than {MAXIMUM_TERMS} comparisons, parentheses and 'not's"
            )));
        }
        if self.peek_keyword("not") {
            self.position += 1;
            return Ok(Expression::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.position += 1;
            let inner = self.or_expression()?;
            self.expect(&Token::Close)?;
            return Ok(inner);
        }
        self.primary()
    }

    fn path(&mut self) -> Result<Vec<String>, SyntaxError> {
        let mut path = Vec::new();
        match self.next() {
            Some(Token::Word(word)) => path.push(word),
            other => return Err(SyntaxError(format!("expected a property, found {other:?}"))),
        }
        while self.peek() == Some(&Token::Slash) {
            self.position += 1;
            match self.next() {
                Some(Token::Word(word)) => path.push(word),
                other => return Err(SyntaxError(format!("expected a property, found {other:?}"))),
            }
        }
        Ok(path)
    }

    fn literal(&mut self) -> Result<Literal, SyntaxError> {
        match self.next() {
            Some(Token::Text(text)) => Ok(Literal::Text(text)),
            Some(Token::Number(number)) => Ok(Literal::Number(number)),
            Some(Token::Word(word)) if word == "true" => Ok(Literal::Boolean(true)),
            Some(Token::Word(word)) if word == "false" => Ok(Literal::Boolean(false)),
            Some(Token::Word(word)) if word == "null" => Ok(Literal::Null),
            Some(Token::Word(word)) if is_guid(&word) => Ok(Literal::Guid(word)),
            // Date-times are written unquoted: 2024-01-01T00:00:00Z.
            Some(Token::Word(word))
                if word.contains('T') && word.starts_with(|c: char| c.is_ascii_digit()) =>
            {
                Ok(Literal::Text(word))
            }
            other => Err(SyntaxError(format!("expected a literal, found {other:?}"))),
        }
    }

    fn primary(&mut self) -> Result<Expression, SyntaxError> {
        // Function call: startsWith(path, 'x') / endsWith(path, 'x').
        if let (Some(Token::Word(word)), Some(Token::Open)) = (
            self.tokens.get(self.position),
            self.tokens.get(self.position + 1),
        ) {
            let function = if word.eq_ignore_ascii_case("startswith") {
                Some(StringFunction::StartsWith)
            } else if word.eq_ignore_ascii_case("endswith") {
                Some(StringFunction::EndsWith)
            } else {
                None
            };
            if let Some(function) = function {
                self.position += 2;
                let path = self.path()?;
                self.expect(&Token::Comma)?;
                let value = match self.next() {
                    Some(Token::Text(text)) => text,
                    other => {
                        return Err(SyntaxError(format!("expected a string, found {other:?}")));
                    }
                };
                self.expect(&Token::Close)?;
                return Ok(Expression::Function {
                    function,
                    path,
                    value,
                });
            }
            return Err(SyntaxError(format!("unknown function '{word}'")));
        }
        let mut path = self.path()?;
        // Lambda: collection/any(v: body). The tokenizer kept `any` as the last segment.
        if path.len() >= 2
            && path
                .last()
                .is_some_and(|last| last.eq_ignore_ascii_case("any"))
            && self.peek() == Some(&Token::Open)
        {
            path.pop();
            let collection = path.join("/");
            self.position += 1;
            let variable = match self.next() {
                Some(Token::Word(word)) => word,
                other => return Err(SyntaxError(format!("expected a variable, found {other:?}"))),
            };
            self.expect(&Token::Colon)?;
            let body = self.or_expression()?;
            self.expect(&Token::Close)?;
            return Ok(Expression::Any {
                collection,
                variable,
                body: Box::new(body),
            });
        }
        let operator = match self.next() {
            Some(Token::Word(word)) => word.to_ascii_lowercase(),
            other => {
                return Err(SyntaxError(format!(
                    "expected an operator, found {other:?}"
                )));
            }
        };
        if operator == "in" {
            self.expect(&Token::Open)?;
            let mut values = vec![self.literal()?];
            while self.peek() == Some(&Token::Comma) {
                self.position += 1;
                values.push(self.literal()?);
            }
            self.expect(&Token::Close)?;
            return Ok(Expression::In { path, values });
        }
        let operator = match operator.as_str() {
            "eq" => Comparison::Equal,
            "ne" => Comparison::NotEqual,
            "gt" => Comparison::Greater,
            "ge" => Comparison::GreaterOrEqual,
            "lt" => Comparison::Less,
            "le" => Comparison::LessOrEqual,
            other => return Err(SyntaxError(format!("unknown operator '{other}'"))),
        };
        let value = self.literal()?;
        if path.len() == 2 && path[1] == "$count" {
            let Literal::Number(count) = value else {
                return Err(SyntaxError("$count compares with a number".into()));
            };
            return Ok(Expression::Count {
                collection: path[0].clone(),
                operator,
                value: count,
            });
        }
        Ok(Expression::Compare {
            path,
            operator,
            value,
        })
    }
}

fn is_guid(word: &str) -> bool {
    let lengths: Vec<usize> = word.split('-').map(str::len).collect();
    lengths == [8, 4, 4, 4, 12] && word.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// How values compare: case-insensitively for directory strings, exactly for the
/// ImmutableID, which Entra ID treats as case-sensitive.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EvaluationRules {
    pub(crate) proxy_addresses_case_insensitive: bool,
}

fn property<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    map_property(object.as_object()?, name)
}

fn map_property<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    })
}

fn resolve<'a>(
    object: &'a Map<String, Value>,
    path: &[String],
    range: Option<(&str, &'a Value)>,
) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut current = match range {
        Some((variable, value)) if first == variable => value,
        _ => map_property(object, first)?,
    };
    for segment in rest {
        current = property(current, segment)?;
    }
    Some(current)
}

fn case_sensitive(
    path: &[String],
    range: Option<(&str, &Value)>,
    collection: Option<&str>,
    rules: EvaluationRules,
) -> bool {
    let name = match (range, path.first()) {
        (Some((variable, _)), Some(first)) if first == variable => collection.unwrap_or_default(),
        (_, Some(first)) => first.as_str(),
        _ => "",
    };
    name.eq_ignore_ascii_case("onPremisesImmutableId")
        || (name.eq_ignore_ascii_case("proxyAddresses") && !rules.proxy_addresses_case_insensitive)
}

fn compare_text(left: &str, right: &str, exact: bool) -> std::cmp::Ordering {
    if exact {
        left.cmp(right)
    } else {
        left.to_lowercase().cmp(&right.to_lowercase())
    }
}

fn compare(actual: Option<&Value>, operator: Comparison, literal: &Literal, exact: bool) -> bool {
    use std::cmp::Ordering;
    let actual = actual.unwrap_or(&Value::Null);
    let ordering: Option<Ordering> = match (actual, literal) {
        (Value::Null, Literal::Null) => Some(Ordering::Equal),
        (Value::Null, _) | (_, Literal::Null) => None,
        (Value::String(text), Literal::Text(value) | Literal::Guid(value)) => {
            Some(compare_text(text, value, exact))
        }
        (Value::Bool(flag), Literal::Boolean(value)) => Some(flag.cmp(value)),
        (Value::Number(number), Literal::Number(value)) => {
            number.as_f64().and_then(|number| number.partial_cmp(value))
        }
        _ => None,
    };
    match operator {
        Comparison::Equal => ordering == Some(Ordering::Equal),
        Comparison::NotEqual => ordering != Some(Ordering::Equal),
        Comparison::Greater => ordering == Some(Ordering::Greater),
        Comparison::GreaterOrEqual => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
        Comparison::Less => ordering == Some(Ordering::Less),
        Comparison::LessOrEqual => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
    }
}

/// Whether an object matches the expression.
pub(crate) fn evaluate(
    expression: &Expression,
    object: &Map<String, Value>,
    rules: EvaluationRules,
) -> bool {
    evaluate_in(expression, object, None, None, rules)
}

fn evaluate_in<'a>(
    expression: &Expression,
    object: &'a Map<String, Value>,
    range: Option<(&str, &'a Value)>,
    collection: Option<&str>,
    rules: EvaluationRules,
) -> bool {
    match expression {
        Expression::And(left, right) => {
            evaluate_in(left, object, range, collection, rules)
                && evaluate_in(right, object, range, collection, rules)
        }
        Expression::Or(left, right) => {
            evaluate_in(left, object, range, collection, rules)
                || evaluate_in(right, object, range, collection, rules)
        }
        Expression::Not(inner) => !evaluate_in(inner, object, range, collection, rules),
        Expression::Compare {
            path,
            operator,
            value,
        } => {
            let exact = case_sensitive(path, range, collection, rules);
            compare(resolve(object, path, range), *operator, value, exact)
        }
        Expression::In { path, values } => {
            let exact = case_sensitive(path, range, collection, rules);
            let actual = resolve(object, path, range);
            values
                .iter()
                .any(|value| compare(actual, Comparison::Equal, value, exact))
        }
        Expression::Function {
            function,
            path,
            value,
        } => {
            let exact = case_sensitive(path, range, collection, rules);
            let Some(Value::String(text)) = resolve(object, path, range) else {
                return false;
            };
            let (text, value) = if exact {
                (text.clone(), value.clone())
            } else {
                (text.to_lowercase(), value.to_lowercase())
            };
            match function {
                StringFunction::StartsWith => text.starts_with(&value),
                StringFunction::EndsWith => text.ends_with(&value),
            }
        }
        Expression::Any {
            collection: name,
            variable,
            body,
        } => match map_property(object, name) {
            Some(Value::Array(items)) => items.iter().any(|item| {
                evaluate_in(
                    body,
                    object,
                    Some((variable.as_str(), item)),
                    Some(name.as_str()),
                    rules,
                )
            }),
            _ => false,
        },
        Expression::Count {
            collection: name,
            operator,
            value,
        } => {
            let count = match map_property(object, name) {
                Some(Value::Array(items)) => items.len(),
                _ => 0,
            };
            compare(
                Some(&Value::from(count as f64)),
                *operator,
                &Literal::Number(*value),
                true,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULES: EvaluationRules = EvaluationRules {
        proxy_addresses_case_insensitive: true,
    };

    fn matches(filter: &str, object: &Value) -> bool {
        evaluate(&parse(filter).unwrap(), object.as_object().unwrap(), RULES)
    }

    #[test]
    fn parses_and_evaluates_the_filters_hardmatch_sends() {
        let user = json!({
            "userPrincipalName": "Adele.Vance@contoso.com",
            "onPremisesImmutableId": "nofCJe0gZk6D8J4gRgrt+A==",
            "onPremisesSyncEnabled": true,
            "proxyAddresses": ["SMTP:adele@contoso.com", "smtp:av@contoso.onmicrosoft.com"],
            "assignedLicenses": [{"skuId": "c7df2760-2c81-4ef7-b578-5b5392b571df", "disabledPlans": []}],
        });
        assert!(matches(
            "onPremisesImmutableId eq 'nofCJe0gZk6D8J4gRgrt+A=='",
            &user
        ));
        // The ImmutableID is case-sensitive.
        assert!(!matches(
            "onPremisesImmutableId eq 'NOFCJE0GZK6D8J4GRGRT+A=='",
            &user
        ));
        assert!(matches(
            "onPremisesImmutableId in ('x', 'nofCJe0gZk6D8J4gRgrt+A==')",
            &user
        ));
        assert!(matches("startsWith(userPrincipalName, 'adele')", &user));
        assert!(matches(
            "userPrincipalName eq 'adele.vance@CONTOSO.com'",
            &user
        ));
        // graph-api.md §16 #5: SMTP:/smtp: compare case-insensitively by default.
        assert!(matches(
            "proxyAddresses/any(p:p eq 'smtp:adele@contoso.com')",
            &user
        ));
        assert!(matches(
            "proxyAddresses/any(p:startsWith(p, 'smtp:av@'))",
            &user
        ));
        assert!(matches(
            "assignedLicenses/any(a:a/skuId eq c7df2760-2c81-4ef7-b578-5b5392b571df)",
            &user
        ));
        assert!(matches(
            "onPremisesSyncEnabled eq true and not (userPrincipalName eq 'x')",
            &user
        ));
        assert!(matches("assignedLicenses/$count eq 1", &user));
        assert!(!matches("proxyAddresses/$count eq 0", &user));
        assert!(matches("mail eq null", &user));
        let exact = EvaluationRules {
            proxy_addresses_case_insensitive: false,
        };
        assert!(!evaluate(
            &parse("proxyAddresses/any(p:p eq 'smtp:adele@contoso.com')").unwrap(),
            user.as_object().unwrap(),
            exact
        ));
    }

    #[test]
    fn rejects_broken_syntax() {
        for broken in [
            "userPrincipalName eq",
            "eq 'x'",
            "startsWith(upn 'x')",
            "a eq 'x",
            "a eq 'x')",
        ] {
            assert!(parse(broken).is_err(), "{broken}");
        }
    }

    /// Regression for the stack overflows the `odata_filter` fuzz target led to: deep nesting
    /// and long chains are refused instead of aborting the emulator.
    #[test]
    fn filters_beyond_the_term_limit_are_refused_not_a_crash() {
        let clause = "mail eq 'x'";
        let chain = |count: usize| vec![clause; count].join(" and ");
        assert!(parse(&chain(MAXIMUM_TERMS)).is_ok());
        let hostile = [
            chain(MAXIMUM_TERMS + 1),
            chain(20_000),
            format!("{}{clause}{}", "(".repeat(30_000), ")".repeat(30_000)),
            format!("{}{clause}", "not ".repeat(30_000)),
            format!(
                "{}{clause}{}",
                "proxyAddresses/any(p:".repeat(10_000),
                ")".repeat(10_000)
            ),
        ];
        for filter in hostile {
            let error = parse(&filter).expect_err("refused");
            assert!(error.0.contains("more than 100"), "{}", error.0);
        }
    }
}
