//! Text that many users share, held once.
//!
//! A tenant has a few dozen licence SKUs and service plans, and a million licensed users
//! name them by the same 36-character GUIDs: each held on its own took a string and an
//! allocation per user. Read from a snapshot or from Graph, equal values now share one
//! allocation, looked up in a small table per thread while users are read.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A shared, immutable string: compared, hashed, shown and written as its text.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Interned(Arc<str>);

/// How many distinct values a thread's table keeps. Past it (text that is not a small set
/// of names, such as a malformed file's), values are held on their own, as before.
const TABLE_LIMIT: usize = 4096;

thread_local! {
    static TABLE: RefCell<HashSet<Arc<str>>> = RefCell::new(HashSet::new());
}

impl Interned {
    /// The shared copy of `text`: the one this thread already holds, or a new one.
    pub fn new(text: &str) -> Self {
        TABLE.with(|table| {
            let mut table = table.borrow_mut();
            if let Some(shared) = table.get(text) {
                return Self(Arc::clone(shared));
            }
            let shared: Arc<str> = Arc::from(text);
            if table.len() < TABLE_LIMIT {
                table.insert(Arc::clone(&shared));
            }
            Self(shared)
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Interned {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Interned {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Interned {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, formatter)
    }
}

impl fmt::Display for Interned {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl From<&str> for Interned {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Interned {
    fn from(text: String) -> Self {
        Self::new(&text)
    }
}

impl PartialEq<str> for Interned {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Interned {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl Serialize for Interned {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Interned {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Interned;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string")
            }

            // Borrowed or not, the text is only looked up: a value already held is not
            // copied again.
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Interned, E> {
                Ok(Interned::new(text))
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_allocation_and_read_as_their_text() {
        let text = r#"[{"skuId":"05e9a617-0261-4cee-bb44-138d3ef5d965"},{"skuId":"05e9a617-0261-4cee-bb44-138d3ef5d965"},{"skuId":"c7df2760-2c81-4ef7-b578-5b5392b571df"}]"#;
        #[derive(Deserialize, Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Licence {
            sku_id: Interned,
        }
        let licences: Vec<Licence> = serde_json::from_str(text).unwrap();
        assert!(Arc::ptr_eq(&licences[0].sku_id.0, &licences[1].sku_id.0));
        assert!(!Arc::ptr_eq(&licences[0].sku_id.0, &licences[2].sku_id.0));
        assert_eq!(licences[2].sku_id, "c7df2760-2c81-4ef7-b578-5b5392b571df");
        // Escaped text (not borrowed from the input) is looked up the same way.
        let escaped: Licence =
            serde_json::from_str(r#"{"skuId":"05e9a617-0261-4cee-bb44-138d3ef5d96\u0035"}"#)
                .unwrap();
        assert!(Arc::ptr_eq(&escaped.sku_id.0, &licences[0].sku_id.0));
        assert_eq!(serde_json::to_string(&licences).unwrap(), text);
        let by_sonic: Vec<Licence> = sonic_rs::from_str(text).unwrap();
        assert!(Arc::ptr_eq(&by_sonic[0].sku_id.0, &licences[0].sku_id.0));
    }

    #[test]
    fn past_the_limit_values_are_held_on_their_own() {
        // A thread of its own: its table starts empty.
        std::thread::spawn(|| {
            for number in 0..TABLE_LIMIT {
                Interned::new(&format!("plan-{number}"));
            }
            let first = Interned::new("one past the limit");
            let second = Interned::new("one past the limit");
            assert_eq!(first, second);
            assert!(!Arc::ptr_eq(&first.0, &second.0));
            // Values already in the table are still shared.
            assert!(Arc::ptr_eq(
                &Interned::new("plan-7").0,
                &Interned::new("plan-7").0
            ));
        })
        .join()
        .unwrap();
    }
}
