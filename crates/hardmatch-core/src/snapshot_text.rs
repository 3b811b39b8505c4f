//! Splits a snapshot's JSON text, as it arrives, into its envelope and batches of its
//! `users`, so that a reader never holds a whole snapshot's text beside the users parsed
//! from it.
//!
//! A million-user snapshot pair is about 1.7 GB of text. Read whole, that text sat in
//! memory next to the users being parsed out of it, and it was most of the difference
//! between the parsed users and the peak. The splitter only tracks strings, escapes and
//! nesting: checking the JSON is left to the parser each piece goes to. What it promises:
//! when every piece parses, the envelope (with `"users":[]`) and the batches, in order,
//! hold exactly the text of the whole. Whatever it cannot split, it refuses, and the
//! caller parses the text whole, which also words the error.

use memchr::memchr2;

/// A snapshot type whose `users` the splitter hands out in batches.
pub trait SnapshotUsers {
    type User;
    fn users_mut(&mut self) -> &mut Vec<Self::User>;

    /// Puts the users parsed from the batches into the snapshot parsed from the envelope.
    /// Its own array is empty unless the key was written with escapes, which the splitter
    /// leaves to the parser; then the batches are empty (both at once is a duplicate field).
    fn add_users(&mut self, mut users: Vec<Self::User>) {
        let held = self.users_mut();
        if held.is_empty() {
            *held = users;
        } else {
            held.append(&mut users);
        }
    }
}

impl SnapshotUsers for crate::ad::AdSnapshot {
    type User = crate::ad::AdUser;
    fn users_mut(&mut self) -> &mut Vec<Self::User> {
        &mut self.users
    }
}

impl SnapshotUsers for crate::tenant::TenantSnapshot {
    type User = crate::tenant::CloudUser;
    fn users_mut(&mut self) -> &mut Vec<Self::User> {
        &mut self.users
    }
}

/// serde_json stops at 128 levels; past this, the text is left to the whole parse.
const MAXIMUM_DEPTH: u32 = 256;

/// Where the text cannot be split; the caller parses it whole instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the text is not a JSON object the splitter can follow")]
pub struct Unsplittable;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    /// Everything outside the top-level `users` array, its brackets included.
    Envelope,
    /// Inside the top-level `users` array.
    Users,
}

/// Feeds on the text in chunks of any size; hands out each batch of whole `users` elements
/// as a JSON array, and the envelope when the text ends.
pub struct UsersSplitter {
    envelope: Vec<u8>,
    /// The pending batch: `[` and the elements' text since the last cut.
    batch: Vec<u8>,
    batch_bytes: usize,
    region: Region,
    /// Open objects and arrays; the `users` elements sit at depth 2.
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// The top-level object has closed; only whitespace may follow.
    closed: bool,
    /// The top-level string being read, while it may still be the key `users`.
    key: Vec<u8>,
    /// Reading a top-level string that was refused as `users` (too long, or escaped).
    key_refused: bool,
    /// The last top-level string was exactly `users`...
    last_string_is_users: bool,
    /// ...and a `:` followed it, so an array opening now is the users array.
    value_is_users: bool,
    /// A batch was cut at a comma, so an element must follow.
    element_owed: bool,
}

impl UsersSplitter {
    /// `batch_bytes`: hand out a batch once it holds at least this much text (it ends on
    /// the next element boundary, so batches run a little over).
    pub fn new(batch_bytes: usize) -> Self {
        Self {
            envelope: Vec::new(),
            batch: vec![b'['],
            batch_bytes: batch_bytes.max(1),
            region: Region::Envelope,
            depth: 0,
            in_string: false,
            escaped: false,
            closed: false,
            key: Vec::with_capacity(8),
            key_refused: false,
            last_string_is_users: false,
            value_is_users: false,
            element_owed: false,
        }
    }

    /// Reads the next chunk of text; `on_batch` receives each batch (a JSON array of
    /// whole elements) as soon as it is complete, and may refuse it.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        on_batch: &mut impl FnMut(&[u8]) -> Result<(), Unsplittable>,
    ) -> Result<(), Unsplittable> {
        // Text since `segment_start` belongs to the current region, and is copied there in
        // one piece at the next change of region, cut or the chunk's end. Outside a string,
        // the users array is read by `feed_users`; this loop reads the envelope, and the
        // rest of a string a chunk ended in.
        let mut segment_start = 0;
        let mut at = 0;
        while at < chunk.len() {
            if self.region == Region::Users && !self.in_string {
                at = self.feed_users(chunk, at, &mut segment_start, on_batch)?;
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    at += 1;
                    continue;
                }
                let Some(offset) = memchr2(b'"', b'\\', &chunk[at..]) else {
                    self.remember_key_text(&chunk[at..]);
                    break;
                };
                let end = at + offset;
                self.remember_key_text(&chunk[at..end]);
                if chunk[end] == b'\\' {
                    self.escaped = true;
                    self.key_refused = true;
                } else {
                    self.in_string = false;
                    if self.depth == 1 && self.region == Region::Envelope {
                        self.last_string_is_users = !self.key_refused && self.key == b"users";
                    }
                }
                at = end + 1;
                continue;
            }
            let byte = chunk[at];
            if self.closed && !is_json_whitespace(byte) {
                return Err(Unsplittable);
            }
            let top_level = self.depth == 1 && self.region == Region::Envelope;
            match byte {
                b'"' => {
                    if self.depth == 0 {
                        return Err(Unsplittable);
                    }
                    self.in_string = true;
                    self.key.clear();
                    self.key_refused = false;
                }
                b'{' | b'[' => {
                    if self.depth == 0 && byte != b'{' {
                        return Err(Unsplittable);
                    }
                    let opens_users = top_level && byte == b'[' && self.value_is_users;
                    // Deeper than any parser here goes: the whole parse will say so.
                    if self.depth == MAXIMUM_DEPTH {
                        return Err(Unsplittable);
                    }
                    self.depth += 1;
                    if opens_users {
                        self.envelope.extend_from_slice(&chunk[segment_start..=at]);
                        segment_start = at + 1;
                        self.region = Region::Users;
                    }
                }
                b'}' | b']' => {
                    if self.depth == 0 {
                        return Err(Unsplittable);
                    }
                    self.depth -= 1;
                    self.closed = self.depth == 0;
                }
                _ => {
                    if self.depth == 0 && !is_json_whitespace(byte) {
                        return Err(Unsplittable);
                    }
                }
            }
            if top_level {
                // Only whitespace and the colon may stand between the key and its value.
                match byte {
                    b':' => self.value_is_users = self.last_string_is_users,
                    byte if is_json_whitespace(byte) => {}
                    _ => {
                        self.value_is_users = false;
                        if byte != b'"' {
                            self.last_string_is_users = false;
                        }
                    }
                }
            }
            at += 1;
        }
        match self.region {
            Region::Envelope => self.envelope.extend_from_slice(&chunk[segment_start..]),
            Region::Users => self.batch.extend_from_slice(&chunk[segment_start..]),
        }
        Ok(())
    }

    /// Reads `chunk` from `at` inside the users array, outside a string, up to the chunk's
    /// end or the array's; returns where it stopped. Almost all of a snapshot is in there,
    /// and only strings, nesting and the commas between elements matter: every other byte
    /// is passed over without a look at the envelope's state, and each string is crossed
    /// in one search for its end (a million-user tenant's text took 1.9 s of a core when
    /// every byte went through the envelope's checks).
    fn feed_users(
        &mut self,
        chunk: &[u8],
        mut at: usize,
        segment_start: &mut usize,
        on_batch: &mut impl FnMut(&[u8]) -> Result<(), Unsplittable>,
    ) -> Result<usize, Unsplittable> {
        while at < chunk.len() {
            let byte = chunk[at];
            match byte {
                b'"' => {
                    let mut inside = at + 1;
                    loop {
                        let Some(offset) = memchr2(b'"', b'\\', &chunk[inside..]) else {
                            // The string goes on in the next chunk.
                            self.in_string = true;
                            return Ok(chunk.len());
                        };
                        let found = inside + offset;
                        if chunk[found] == b'"' {
                            at = found;
                            break;
                        }
                        if found + 1 == chunk.len() {
                            self.in_string = true;
                            self.escaped = true;
                            return Ok(chunk.len());
                        }
                        inside = found + 2;
                    }
                }
                b'{' | b'[' => {
                    // Deeper than any parser here goes: the whole parse will say so.
                    if self.depth == MAXIMUM_DEPTH {
                        return Err(Unsplittable);
                    }
                    self.depth += 1;
                }
                b'}' | b']' if self.depth == 2 => {
                    if byte != b']' {
                        return Err(Unsplittable);
                    }
                    self.batch.extend_from_slice(&chunk[*segment_start..at]);
                    *segment_start = at;
                    self.close_users(on_batch)?;
                    self.depth -= 1;
                    return Ok(at + 1);
                }
                b'}' | b']' => self.depth -= 1,
                b',' if self.depth == 2 => {
                    let pending = self.batch.len() + (at - *segment_start);
                    if pending > self.batch_bytes {
                        self.batch.extend_from_slice(&chunk[*segment_start..at]);
                        *segment_start = at + 1;
                        self.hand_out(on_batch)?;
                        self.element_owed = true;
                    }
                }
                _ => {}
            }
            at += 1;
        }
        Ok(at)
    }

    /// Ends the text: the envelope, with its `users` array emptied, once the text was
    /// one whole object.
    pub fn finish(self) -> Result<Vec<u8>, Unsplittable> {
        if !self.closed {
            return Err(Unsplittable);
        }
        Ok(self.envelope)
    }

    fn remember_key_text(&mut self, text: &[u8]) {
        if self.depth != 1 || self.region != Region::Envelope || self.key_refused {
            return;
        }
        if self.key.len() + text.len() > b"users".len() {
            self.key_refused = true;
        } else {
            self.key.extend_from_slice(text);
        }
    }

    fn close_users(
        &mut self,
        on_batch: &mut impl FnMut(&[u8]) -> Result<(), Unsplittable>,
    ) -> Result<(), Unsplittable> {
        let elements = &self.batch[1..];
        if elements.iter().copied().all(is_json_whitespace) {
            // `[ ]` is an empty array, but `[a, ]` is not JSON.
            if self.element_owed {
                return Err(Unsplittable);
            }
            self.batch.truncate(1);
        } else {
            self.hand_out(on_batch)?;
        }
        self.region = Region::Envelope;
        self.element_owed = false;
        Ok(())
    }

    fn hand_out(
        &mut self,
        on_batch: &mut impl FnMut(&[u8]) -> Result<(), Unsplittable>,
    ) -> Result<(), Unsplittable> {
        // A parser reads `[ ]` as empty: a batch of only whitespace would hide `a, ,b`.
        if self.batch[1..].iter().copied().all(is_json_whitespace) {
            return Err(Unsplittable);
        }
        self.batch.push(b']');
        let result = on_batch(&self.batch);
        self.batch.truncate(1);
        result
    }
}

/// JSON's four, not Rust's ASCII whitespace, which also takes the form feed.
fn is_json_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Splits `text` fed in chunks of `chunk` bytes: the envelope and the batches, parsed.
    fn split(text: &str, chunk: usize, batch_bytes: usize) -> Result<(Value, Vec<Value>), String> {
        let mut splitter = UsersSplitter::new(batch_bytes);
        let mut users = Vec::new();
        let mut on_batch = |batch: &[u8]| {
            users.extend(serde_json::from_slice::<Vec<Value>>(batch).map_err(|_| Unsplittable)?);
            Ok(())
        };
        for piece in text.as_bytes().chunks(chunk.max(1)) {
            splitter
                .feed(piece, &mut on_batch)
                .map_err(|e| e.to_string())?;
        }
        let envelope = splitter.finish().map_err(|e| e.to_string())?;
        let envelope = serde_json::from_slice(&envelope).map_err(|e| e.to_string())?;
        Ok((envelope, users))
    }

    /// What the whole text parses to, with `users` moved out as the splitter moves it.
    fn whole(text: &str) -> Option<(Value, Vec<Value>)> {
        let mut value: Value = serde_json::from_str(text).ok()?;
        let users = match value.get_mut("users") {
            Some(Value::Array(users)) => std::mem::take(users),
            _ => Vec::new(),
        };
        Some((value, users))
    }

    /// The splitter's promise: when it succeeds, it agrees with the whole parse.
    fn assert_agrees(text: &str, chunk: usize, batch_bytes: usize) {
        let expected = whole(text);
        if let Ok(mut got) = split(text, chunk, batch_bytes) {
            // An escaped `users` key is left in the envelope: still the same users.
            if let Some(Value::Array(users)) = got.0.get_mut("users") {
                let mut from_envelope = std::mem::take(users);
                from_envelope.append(&mut got.1);
                got.1 = from_envelope;
            }
            assert_eq!(Some(got), expected, "{text:?} in chunks of {chunk}");
        }
    }

    const SNAPSHOT: &str = r#" {"format_version": 1, "source": {"users": ["not", "these"]},
        "taken_at": "users", "users" : [ {"id": "a", "tags": ["x,y", "]"]},
        {"id": "b\"}, ", "n": [1, {"users": [2]}]}, {"id": "\\"} ],
        "roles": [] }
    "#;

    #[test]
    fn agrees_with_the_whole_parse_at_every_chunk_and_batch_size() {
        for chunk in 1..=SNAPSHOT.len() {
            for batch_bytes in [1, 2, 30, 10_000] {
                let (envelope, users) = split(SNAPSHOT, chunk, batch_bytes).unwrap();
                assert_eq!(Some((envelope, users)), whole(SNAPSHOT));
            }
        }
    }

    #[test]
    fn batches_end_on_element_boundaries_once_full() {
        let mut splitter = UsersSplitter::new(10);
        let mut batches = Vec::new();
        let mut on_batch = |batch: &[u8]| -> Result<(), Unsplittable> {
            batches.push(String::from_utf8(batch.to_vec()).unwrap());
            Ok(())
        };
        let text = r#"{"users":[{"a":"1,2"},{"b":2},{"c":3}],"x":[]}"#;
        splitter.feed(text.as_bytes(), &mut on_batch).unwrap();
        assert_eq!(batches, [r#"[{"a":"1,2"}]"#, r#"[{"b":2},{"c":3}]"#]);
        assert_eq!(splitter.finish().unwrap(), br#"{"users":[],"x":[]}"#);
    }

    #[test]
    fn refuses_what_it_cannot_follow() {
        for text in [
            "",
            "[]",
            r#"{"users":[1,2]"#,
            r#"{"users":[1]} {}"#,
            r#"{"users":[1}]}"#,
            r#""users""#,
            "{} x",
            "}",
        ] {
            assert!(split(text, 3, 1).is_err(), "{text:?} was split");
        }
    }

    #[test]
    fn refuses_nesting_deeper_than_the_parsers_go() {
        let mut splitter = UsersSplitter::new(1);
        let mut on_batch = |_: &[u8]| Ok::<(), Unsplittable>(());
        let deep = format!("{{\"users\":{}", "[".repeat(MAXIMUM_DEPTH as usize));
        assert_eq!(
            splitter.feed(deep.as_bytes(), &mut on_batch),
            Err(Unsplittable)
        );
    }

    #[test]
    fn refuses_an_empty_element_between_cuts() {
        // Each of these would parse piece by piece if empty batches were let through.
        for text in [
            r#"{"users":[1, ,2]}"#,
            r#"{"users":[1,]}"#,
            r#"{"users":[,1]}"#,
        ] {
            assert!(split(text, 64, 1).is_err(), "{text:?} was split");
        }
        let (_, users) = split("{\"users\":[ \r\n\t]}", 64, 1).unwrap();
        assert!(users.is_empty());
        // A form feed is not JSON whitespace: an array holding one is not empty but invalid.
        assert!(split("{\"users\":[\x0c]}", 64, 1).is_err());
    }

    #[test]
    fn leaves_an_escaped_users_key_in_the_envelope() {
        let text = r#"{"us\u0065rs":[1,2]}"#;
        let (envelope, users) = split(text, 4, 1).unwrap();
        assert!(users.is_empty());
        assert_eq!(envelope["users"], serde_json::json!([1, 2]));
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            "[a-z\\\\\",\\[\\]{}: é]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("users|[a-z]{1,3}", inner), 0..4)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_valid_object_splits_to_what_it_parses_to(
            users in prop::collection::vec(json_value(), 0..6),
            other in json_value(),
            pretty in any::<bool>(),
            chunk in 1usize..40,
            batch_bytes in 1usize..60,
        ) {
            let snapshot = serde_json::json!({"a": other, "users": users, "z": 1});
            let text = if pretty {
                serde_json::to_string_pretty(&snapshot).unwrap()
            } else {
                serde_json::to_string(&snapshot).unwrap()
            };
            let (envelope, got) = split(&text, chunk, batch_bytes).unwrap();
            prop_assert_eq!(Some((envelope, got)), whole(&text));
        }

        #[test]
        fn damaged_text_is_refused_or_agrees(
            users in prop::collection::vec(json_value(), 0..5),
            cut in any::<prop::sample::Index>(),
            insert in prop::sample::select(
                vec!["", ",", "]", "}", "\"", "\\", "[", "{", " ", "\x0c"],
            ),
            chunk in 1usize..40,
            batch_bytes in 1usize..60,
        ) {
            let mut text = serde_json::to_string(&serde_json::json!({"users": users})).unwrap();
            let at = cut.index(text.len() + 1);
            if text.is_char_boundary(at) {
                text.insert_str(at, insert);
                assert_agrees(&text, chunk, batch_bytes);
            }
        }
    }
}
