//! Borrowed lookup keys and compact multi-maps for joining directories of a million users.
//!
//! Both sides of a join hold their strings already; copying or lowercasing each of them
//! for a hash map would double the memory of a 1M × 1M run. Keys here borrow from the
//! inputs and fold ASCII case while hashing, and a value held by one object (the common
//! case) costs four bytes beside its key and no allocation.

use std::borrow::Cow;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

/// A hash map with [`WordHasher`]: the maps here hold millions of short keys.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<WordHasher>>;
/// A hash set with [`WordHasher`].
pub(crate) type HashSet<K> = std::collections::HashSet<K, BuildHasherDefault<WordHasher>>;

/// A fast multiply-rotate hasher over 8-byte words (the FxHash construction).
///
/// SipHash's resistance to chosen keys buys nothing in an offline tool reading its own
/// directories, and costs most of the run time of a 1M × 1M join.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WordHasher(u64);

impl WordHasher {
    const SEED: u64 = 0x517c_c1b7_2722_0a95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // Packed a byte at a time: a copy of a length known only here is a call to
            // `memcpy`, which took more time than the hashing (most keys end in one).
            let word = rest
                .iter()
                .rev()
                .fold(0, |word, &byte| (word << 8) | u64::from(byte));
            self.add(word ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        // hashbrown reads the top bits; the rotation brings the best-mixed bits there.
        self.0.rotate_left(26)
    }
}

/// A string compared and hashed without regard to ASCII case, as Entra ID compares UPNs
/// and SMTP addresses. Non-ASCII characters compare exactly: Entra's own folding of them
/// is not documented, and treating them as different errs towards reporting a conflict
/// as "no match" rather than inventing one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Folded<'a>(pub(crate) &'a str);

impl PartialEq for Folded<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(other.0)
    }
}

impl Eq for Folded<'_> {}

impl Hash for Folded<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Lowercased eight bytes at a time: equal keys have equal lengths, so they split
        // alike, and their words are equal once lowercased.
        let mut words = self.0.as_bytes().chunks_exact(8);
        for word in &mut words {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            state.write_u64(lowercase_word(u64::from_le_bytes(bytes)));
        }
        let mut rest = [0u8; 7];
        let remainder = words.remainder();
        for (slot, byte) in rest.iter_mut().zip(remainder) {
            *slot = byte.to_ascii_lowercase();
        }
        state.write(&rest[..remainder.len()]);
        // The terminator keeps ("ab", "c") and ("a", "bc") apart, as `str`'s own hash does.
        state.write_u8(0xff);
    }
}

/// The ASCII capitals of eight bytes lowercased at once, as `u8::to_ascii_lowercase` does
/// each; every other byte, UTF-8's included, is left as it is.
fn lowercase_word(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Each byte's low seven bits, plus an offset that carries into its own high bit when
    // the byte is at least `A` (or past `Z`), and never into the next byte.
    let low = word & !HIGH;
    let from_a = low + ONES * u64::from(0x80 - b'A');
    let past_z = low + ONES * u64::from(0x80 - b'Z' - 1);
    let capitals = from_a & !past_z & !word & HIGH;
    // A capital's high bit, moved to the 0x20 of the same byte.
    word | (capitals >> 2)
}

/// [`Folded`] text that is borrowed, or owned where it was made up on the way (the sync
/// cycle's initial-domain UPNs, kept beside AD's own values in one map of written values).
#[derive(Clone, Debug)]
pub(crate) struct FoldedText<'a>(pub(crate) Cow<'a, str>);

impl PartialEq for FoldedText<'_> {
    fn eq(&self, other: &Self) -> bool {
        Folded(&self.0) == Folded(&other.0)
    }
}

impl Eq for FoldedText<'_> {}

impl Hash for FoldedText<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Folded(&self.0).hash(state);
    }
}

/// Objects with their positions, which the indexes keep as `u32` to halve their size (a
/// directory of over four billion objects is indexed up to there).
pub(crate) fn positions<T>(objects: &[T]) -> impl Iterator<Item = (u32, &T)> {
    objects
        .iter()
        .enumerate()
        .map_while(|(position, object)| Some((u32::try_from(position).ok()?, object)))
}

/// The objects holding one value, in four bytes: almost always one object, whose index it
/// is; for the rare value held by several (a conflict), the top bit is set and the rest
/// is the position of their list in [`MultiIndex::shared`]. An index of millions of
/// values pays four bytes for each instead of a vector's 24.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Holders(u32);

impl Holders {
    const SHARED: u32 = 1 << 31;

    /// The position of the list of holders, when there are several.
    fn shared(self) -> Option<usize> {
        (self.0 & Self::SHARED != 0).then_some((self.0 & !Self::SHARED) as usize)
    }
}

/// A multi-map from borrowed keys to object indexes, in insertion order per key.
#[derive(Debug)]
pub(crate) struct MultiIndex<K> {
    map: HashMap<K, Holders>,
    /// The holders of each value held by more than one object, and of any value held by an
    /// object whose index needs the top bit.
    shared: Vec<Vec<u32>>,
}

impl<K: Hash + Eq> MultiIndex<K> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            map: HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
            shared: Vec::new(),
        }
    }

    pub(crate) fn insert(&mut self, key: K, index: u32) {
        match self.map.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut entry) => {
                add_holder(&mut self.shared, entry.get_mut(), index);
            }
            std::collections::hash_map::Entry::Vacant(entry) => {
                if let Some(holders) = first_holder(&mut self.shared, index) {
                    entry.insert(holders);
                }
            }
        }
    }

    pub(crate) fn get(&self, key: &K) -> &[u32] {
        self.map
            .get(key)
            .map_or(&[], |holders| holder_list(&self.shared, holders))
    }

    /// Every key held by more than one object.
    pub(crate) fn duplicates(&self) -> impl Iterator<Item = (&K, &[u32])> {
        self.map.iter().filter_map(|(key, holders)| {
            let list = &self.shared[holders.shared()?];
            (list.len() > 1).then_some((key, list.as_slice()))
        })
    }
}

/// The field of an object that a [`FieldIndex`] indexes it by.
pub(crate) trait Field<T> {
    type Key<'a>: Hash + Eq
    where
        T: 'a;

    /// The object's key; an object without one is not indexed.
    fn key(object: &T) -> Option<Self::Key<'_>>;
}

/// A multi-map like [`MultiIndex`] over one field of each object (an id, an anchor, a
/// UPN), which stores no keys: an entry is its four-byte [`Holders`], and its key is read
/// again from its first holder when a lookup compares it. A lookup reads that field
/// anyway; an index of a million values then takes four bytes a bucket instead of 24.
pub(crate) struct FieldIndex<'a, T, F> {
    objects: &'a [T],
    table: hashbrown::HashTable<Holders>,
    shared: Vec<Vec<u32>>,
    field: std::marker::PhantomData<F>,
}

impl<'a, T, F: Field<T>> FieldIndex<'a, T, F> {
    /// An empty index of `objects`, with room for `capacity` values; objects are added
    /// with [`FieldIndex::insert`], by position.
    pub(crate) fn with_capacity(objects: &'a [T], capacity: usize) -> Self {
        Self {
            objects,
            table: hashbrown::HashTable::with_capacity(capacity),
            shared: Vec::new(),
            field: std::marker::PhantomData,
        }
    }

    /// An index of every one of `objects`.
    pub(crate) fn of_all(objects: &'a [T]) -> Self {
        let mut index = Self::with_capacity(objects, objects.len());
        for (position, _) in positions(objects) {
            index.insert(position);
        }
        index
    }

    fn hash(key: &F::Key<'_>) -> u64 {
        BuildHasherDefault::<WordHasher>::default().hash_one(key)
    }

    /// The key an entry stands for: its first holder's.
    fn key_at(objects: &'a [T], shared: &[Vec<u32>], holders: Holders) -> Option<F::Key<'a>> {
        let first = match holders.shared() {
            Some(list) => *shared.get(list)?.first()?,
            None => holders.0,
        };
        F::key(objects.get(first as usize)?)
    }

    /// Indexes the object at `index` under its key; an object without one is left out.
    pub(crate) fn insert(&mut self, index: u32) {
        let objects = self.objects;
        let Some(key) = objects.get(index as usize).and_then(F::key) else {
            return;
        };
        let hash = Self::hash(&key);
        let shared = &self.shared;
        let found = self.table.find_mut(hash, |&holders| {
            Self::key_at(objects, shared, holders).is_some_and(|held| held == key)
        });
        match found {
            Some(holders) => add_holder(&mut self.shared, holders, index),
            None => {
                let Some(holders) = first_holder(&mut self.shared, index) else {
                    return;
                };
                let shared = &self.shared;
                self.table.insert_unique(hash, holders, |&holders| {
                    Self::key_at(objects, shared, holders).map_or(0, |key| Self::hash(&key))
                });
            }
        }
    }

    pub(crate) fn get(&self, key: &F::Key<'a>) -> &[u32] {
        self.table
            .find(Self::hash(key), |&holders| {
                Self::key_at(self.objects, &self.shared, holders).is_some_and(|held| held == *key)
            })
            .map_or(&[], |holders| holder_list(&self.shared, holders))
    }

    pub(crate) fn contains(&self, key: &F::Key<'a>) -> bool {
        !self.get(key).is_empty()
    }

    /// Values held by more than one object, with the first holder's key.
    pub(crate) fn duplicates(&self) -> impl Iterator<Item = (F::Key<'a>, &[u32])> {
        self.table.iter().filter_map(|&holders| {
            let list = &self.shared[holders.shared()?];
            let key = Self::key_at(self.objects, &self.shared, holders)?;
            (list.len() > 1).then_some((key, list.as_slice()))
        })
    }
}

/// Adds `index` to the holders of a value, once.
fn add_holder(shared: &mut Vec<Vec<u32>>, holders: &mut Holders, index: u32) {
    match holders.shared() {
        Some(list) => {
            let list = &mut shared[list];
            if !list.contains(&index) {
                list.push(index);
            }
        }
        None if holders.0 != index => {
            if let Some(list) = share(shared, vec![holders.0, index]) {
                *holders = list;
            }
        }
        None => {}
    }
}

/// The holders of a value first held by `index`.
fn first_holder(shared: &mut Vec<Vec<u32>>, index: u32) -> Option<Holders> {
    if index & Holders::SHARED == 0 {
        Some(Holders(index))
    } else {
        share(shared, vec![index])
    }
}

/// The object indexes a value's holders stand for.
fn holder_list<'s>(shared: &'s [Vec<u32>], holders: &'s Holders) -> &'s [u32] {
    match holders.shared() {
        Some(list) => &shared[list],
        None => std::slice::from_ref(&holders.0),
    }
}

/// Files a list of holders and returns its reference, or `None` past two billion lists
/// (which no directory that fits in memory reaches), keeping the holders already there.
fn share(shared: &mut Vec<Vec<u32>>, holders: Vec<u32>) -> Option<Holders> {
    let position = u32::try_from(shared.len())
        .ok()
        .filter(|position| position & Holders::SHARED == 0)?;
    shared.push(holders);
    Some(Holders(position | Holders::SHARED))
}

/// Splits `smtp:value` into its value when the prefix is SMTP in any case.
pub(crate) fn smtp_value(proxy_address: &str) -> Option<&str> {
    // Compared as bytes: `split_once(':')` searched for the colon through a general
    // character matcher, a measurable share of a million-user prediction.
    let prefix = proxy_address.as_bytes().get(..5)?;
    (prefix[4] == b':' && prefix[..4].eq_ignore_ascii_case(b"smtp")).then(|| &proxy_address[5..])
}

/// The primary SMTP address Entra Connect soft-matches on: the `SMTP:` proxy address (the
/// uppercase prefix marks the primary), else `mail`. Shared by AD and cloud users.
pub(crate) fn primary_smtp<'a>(
    proxy_addresses: &'a [String],
    mail: Option<&'a str>,
) -> Option<&'a str> {
    proxy_addresses
        .iter()
        .find_map(|address| address.strip_prefix("SMTP:"))
        .or(mail)
}

/// The domain part of an address or UPN (after the last `@`).
pub(crate) fn domain_of(address: &str) -> Option<&str> {
    address.rsplit_once('@').map(|(_, domain)| domain)
}

/// FNV-1a, 64 bits: a small, stable hash for deterministic numbers and fingerprints.
///
/// Stable across builds and platforms (unlike `std`'s `DefaultHasher`), which matters
/// because its output lands in plan files and placeholder UPNs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    pub(crate) const fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Writes a field and a separator, so that field boundaries are part of the hash.
    pub(crate) fn write_field(&mut self, text: &str) {
        self.write(text.as_bytes());
        self.write(&[0x1f]);
    }

    pub(crate) const fn finish(self) -> u64 {
        self.0
    }
}

/// Lets serde_json hash a value as it serialises it, without first building the JSON text
/// (for a plan of a million users, hundreds of megabytes). Nothing leaves the process.
impl std::io::Write for Fnv1a {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        Self::write(self, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_lowercase_as_each_byte_does() {
        // Every byte value, at every position of the word, among others.
        for value in 0..=u8::MAX {
            for position in 0..8 {
                let mut bytes = *b"aZ@\x80\xc3q7M";
                bytes[position] = value;
                let expected = bytes.map(|byte| byte.to_ascii_lowercase());
                let lowered = lowercase_word(u64::from_le_bytes(bytes)).to_le_bytes();
                assert_eq!(lowered, expected, "{value:#x} at {position}");
            }
        }
    }

    #[test]
    fn folded_hashes_agree_across_case_at_every_length() {
        let hash = |text: &str| BuildHasherDefault::<WordHasher>::default().hash_one(Folded(text));
        let text = "Adele.Vance@Contoso.COM.example";
        for length in 0..=text.len() {
            let (upper, lower) = (&text[..length], text[..length].to_ascii_lowercase());
            assert_eq!(hash(upper), hash(&lower), "{upper}");
        }
        assert_ne!(hash("ab"), hash("ab\0"));
        assert_ne!(hash("adele@contoso.com"), hash("adèle@contoso.com"));
    }

    #[test]
    fn folded_keys_ignore_ascii_case_only() {
        let set: HashSet<Folded<'_>> = [Folded("Adele@Contoso.com")].into_iter().collect();
        assert!(set.contains(&Folded("adele@contoso.COM")));
        assert!(!set.contains(&Folded("adèle@contoso.com")));
    }

    #[test]
    fn multi_index_keeps_every_holder_once() {
        let mut index = MultiIndex::with_capacity(4);
        index.insert(Folded("a@x"), 1);
        index.insert(Folded("A@X"), 1);
        index.insert(Folded("a@x"), 2);
        assert_eq!(index.get(&Folded("a@X")), &[1, 2]);
        assert_eq!(index.duplicates().count(), 1);
        assert!(index.get(&Folded("b@x")).is_empty());
    }

    #[test]
    fn multi_index_keeps_indexes_that_need_the_top_bit() {
        let high = Holders::SHARED + 7;
        let mut index = MultiIndex::with_capacity(4);
        index.insert("alone", high);
        index.insert("alone", high);
        index.insert("pair", 3);
        index.insert("pair", high);
        index.insert("pair", 3);
        assert_eq!(index.get(&"alone"), &[high]);
        assert_eq!(index.get(&"pair"), &[3, high]);
        // A value held once, even by a high index, is no duplicate.
        let duplicates: Vec<_> = index.duplicates().collect();
        assert_eq!(duplicates, [(&"pair", &[3, high][..])]);
    }

    /// Objects that are their own optional key, for the field index's tests.
    struct Itself;

    impl Field<Option<String>> for Itself {
        type Key<'a> = Folded<'a>;

        fn key(object: &Option<String>) -> Option<Folded<'_>> {
            object.as_deref().map(Folded)
        }
    }

    #[test]
    fn field_index_finds_holders_by_the_field_it_reads_again() {
        let objects: Vec<Option<String>> = ["a@x", "A@X", "", "b@x", "a@x"]
            .iter()
            .map(|text| (!text.is_empty()).then(|| (*text).to_owned()))
            .collect();
        let mut index: FieldIndex<'_, _, Itself> = FieldIndex::with_capacity(&objects, 4);
        for position in 0..5 {
            index.insert(position);
        }
        // Again, without a key, and past the end: no change.
        index.insert(0);
        index.insert(2);
        index.insert(99);
        assert_eq!(index.get(&Folded("A@x")), &[0, 1, 4]);
        assert_eq!(index.get(&Folded("b@X")), &[3]);
        assert!(index.get(&Folded("c@x")).is_empty());
        assert!(index.contains(&Folded("B@x")) && !index.contains(&Folded("c@x")));
        let duplicates: Vec<_> = index
            .duplicates()
            .map(|(key, holders)| (key.0, holders))
            .collect();
        assert_eq!(duplicates, [("a@x", &[0, 1, 4][..])]);
    }

    #[test]
    fn field_index_grows_past_its_capacity() {
        // Growing rehashes every entry by the key read from its holder.
        let objects: Vec<Option<String>> = (0..5000).map(|n| Some(format!("user{n}@x"))).collect();
        let mut index: FieldIndex<'_, _, Itself> = FieldIndex::with_capacity(&objects, 1);
        for position in 0..5000 {
            index.insert(position);
        }
        for (position, object) in objects.iter().enumerate() {
            let key = Folded(object.as_deref().unwrap_or_default());
            assert_eq!(index.get(&key), &[position as u32]);
        }
        assert_eq!(index.duplicates().count(), 0);
    }

    #[test]
    fn smtp_values_are_the_addresses_behind_an_smtp_prefix_in_any_case() {
        assert_eq!(
            smtp_value("SMTP:adele@contoso.com"),
            Some("adele@contoso.com")
        );
        assert_eq!(smtp_value("sMtP:a:b@contoso.com"), Some("a:b@contoso.com"));
        assert_eq!(smtp_value("smtp:"), Some(""));
        for other in [
            "X500:/o=Contoso",
            "smtpx:a@b",
            "smt:a@b",
            "smtp",
            "",
            "sip:a@b",
            "ßmtp:a",
        ] {
            assert_eq!(smtp_value(other), None, "{other}");
        }
    }

    #[test]
    fn fnv_matches_the_published_test_vector() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (Fowler/Noll/Vo test suite).
        let mut hash = Fnv1a::new();
        hash.write(b"a");
        assert_eq!(hash.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
