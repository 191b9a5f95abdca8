//! Longest-prefix match from digit prefixes to values: area codes, rate tables, prefix rules.
//!
//! A decimal trie kept flat: every node is 8 bytes (its value's index and its child
//! block's index), and only nodes with children own a block of ten `u32` child ids.
//! Tables of full-length keys (a segment table is mostly leaves) thus cost about 8 bytes
//! a leaf rather than 44, and a lookup is one or two array loads per digit with no
//! hashing and no allocation.

use crate::error::{Error, Result};

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    /// Index into `values`, or `NONE`.
    value: u32,
    /// Index into `blocks`, or `NONE` for a leaf.
    block: u32,
}

const EMPTY: Node = Node {
    value: NONE,
    block: NONE,
};

/// Digit-prefix → value table with longest-prefix match. `Send + Sync` when `V` is.
#[derive(Debug, Clone)]
pub struct PrefixTable<V> {
    /// Node 0 is the root (the empty prefix).
    nodes: Vec<Node>,
    /// Child node ids by digit; 0 means "no child" (the root is nobody's child).
    blocks: Vec<[u32; 10]>,
    values: Vec<V>,
}

impl<V> Default for PrefixTable<V> {
    fn default() -> Self {
        PrefixTable::new()
    }
}

impl<V> PrefixTable<V> {
    pub fn new() -> Self {
        PrefixTable {
            nodes: vec![EMPTY],
            blocks: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Number of prefixes with a value. O(1).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn child(&self, node: u32, digit: u8) -> Option<u32> {
        let block = self.nodes[node as usize].block;
        if block == NONE {
            return None;
        }
        let c = self.blocks[block as usize][usize::from(digit)];
        (c != 0).then_some(c)
    }

    /// Sets the value of `prefix` (ASCII digits; the empty prefix is the default for
    /// every number) and returns the one it replaces. O(len(prefix)).
    pub fn insert(&mut self, prefix: &[u8], value: V) -> Result<Option<V>> {
        if let Some(i) = prefix.iter().position(|b| !b.is_ascii_digit()) {
            return Err(Error::InvalidArgument(format!(
                "prefix: {:?} is not all digits (position {i})",
                String::from_utf8_lossy(prefix)
            )));
        }
        if self.nodes.len() + prefix.len() >= NONE as usize || self.values.len() >= NONE as usize {
            return Err(Error::InvalidArgument("prefix table is full".into()));
        }
        let mut node = 0u32;
        for &b in prefix {
            let digit = b - b'0';
            node = if let Some(c) = self.child(node, digit) {
                c
            } else {
                let new = self.nodes.len() as u32;
                self.nodes.push(EMPTY);
                let slot = &mut self.nodes[node as usize].block;
                if *slot == NONE {
                    *slot = self.blocks.len() as u32;
                    self.blocks.push([0; 10]);
                }
                self.blocks[*slot as usize][usize::from(digit)] = new;
                new
            };
        }
        let n = &mut self.nodes[node as usize];
        if n.value == NONE {
            n.value = self.values.len() as u32;
            self.values.push(value);
            Ok(None)
        } else {
            Ok(Some(std::mem::replace(
                &mut self.values[n.value as usize],
                value,
            )))
        }
    }

    /// The value stored for exactly `prefix`. O(len(prefix)).
    pub fn get_exact(&self, prefix: &[u8]) -> Option<&V> {
        let mut node = 0u32;
        for &b in prefix {
            if !b.is_ascii_digit() {
                return None;
            }
            node = self.child(node, b - b'0')?;
        }
        let v = self.nodes[node as usize].value;
        (v != NONE).then(|| &self.values[v as usize])
    }

    /// The longest stored prefix of `number` and its value, as (prefix length, value). The
    /// walk stops at the first byte that is not a digit. O(len(number)), no allocation.
    pub fn longest_match(&self, number: &[u8]) -> Option<(usize, &V)> {
        let mut node = 0u32;
        let root = self.nodes[0].value;
        let mut best = (root != NONE).then_some((0usize, root));
        for (i, &b) in number.iter().enumerate() {
            if !b.is_ascii_digit() {
                break;
            }
            let Some(c) = self.child(node, b - b'0') else {
                break;
            };
            node = c;
            let v = self.nodes[node as usize].value;
            if v != NONE {
                best = Some((i + 1, v));
            }
        }
        best.map(|(len, v)| (len, &self.values[v as usize]))
    }

    /// Every (prefix, value) pair, in lexicographic order of the prefixes. O(size).
    pub fn iter(&self) -> impl Iterator<Item = (String, &V)> {
        let mut out = Vec::with_capacity(self.values.len());
        let mut stack = vec![(0u32, String::new())];
        while let Some((node, prefix)) = stack.pop() {
            let n = self.nodes[node as usize];
            if n.value != NONE {
                out.push((prefix.clone(), &self.values[n.value as usize]));
            }
            if n.block != NONE {
                for d in (0..10u8).rev() {
                    let c = self.blocks[n.block as usize][usize::from(d)];
                    if c != 0 {
                        stack.push((c, format!("{prefix}{}", char::from(b'0' + d))));
                    }
                }
            }
        }
        out.into_iter()
    }

    /// Approximate heap bytes used by the trie itself (not counting what `V` owns). O(1).
    pub fn trie_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.blocks.capacity() * std::mem::size_of::<[u32; 10]>()
            + self.values.capacity() * std::mem::size_of::<V>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn area_codes() {
        let mut t = PrefixTable::new();
        assert!(t.is_empty());
        for (p, city) in [
            ("010", "北京"),
            ("020", "广州"),
            ("0755", "深圳"),
            ("075", "广东?"),
            ("0", "国内"),
        ] {
            assert_eq!(t.insert(p.as_bytes(), city).unwrap(), None);
        }
        assert_eq!(t.len(), 5);
        assert_eq!(t.longest_match(b"075586000000"), Some((4, &"深圳")));
        assert_eq!(t.longest_match(b"07571234567"), Some((3, &"广东?")));
        assert_eq!(t.longest_match(b"01012345678"), Some((3, &"北京")));
        assert_eq!(t.longest_match(b"0311"), Some((1, &"国内")));
        assert_eq!(t.longest_match(b"13800138000"), None);
        assert_eq!(t.longest_match(b""), None);
        assert_eq!(
            t.longest_match(b"07-55"),
            Some((1, &"国内")),
            "stops at a non-digit"
        );
        assert_eq!(t.get_exact(b"075"), Some(&"广东?"));
        assert_eq!(t.get_exact(b"07"), None);
        assert_eq!(t.get_exact(b"0x"), None);
        assert_eq!(t.insert(b"075", "佛山?").unwrap(), Some("广东?"));
        assert_eq!(t.len(), 5);
        assert_eq!(t.get_exact(b"075"), Some(&"佛山?"));
        let all: Vec<(String, &&str)> = t.iter().collect();
        assert_eq!(
            all.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
            ["0", "010", "020", "075", "0755"]
        );
    }

    #[test]
    fn empty_prefix_is_a_default() {
        let mut t = PrefixTable::new();
        t.insert(b"", 0).unwrap();
        t.insert(b"1", 1).unwrap();
        assert_eq!(t.longest_match(b""), Some((0, &0)));
        assert_eq!(t.longest_match(b"2"), Some((0, &0)));
        assert_eq!(t.longest_match(b"12"), Some((1, &1)));
    }

    #[test]
    fn refuses_non_digits() {
        let mut t = PrefixTable::new();
        let e = t.insert(b"07a5", ()).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)));
        assert!(e.to_string().contains("position 2"), "{e}");
        assert!(t.insert(b"*1", ()).is_err());
        assert!(t.is_empty());
    }

    #[test]
    fn leaves_stay_small() {
        let mut t = PrefixTable::new();
        for seg in 1_300_000u32..1_400_000 {
            t.insert(seg.to_string().as_bytes(), seg).unwrap();
        }
        assert_eq!(t.longest_match(b"13800138000"), Some((7, &1_380_013)));
        // 100k leaves at 8 bytes, ~11k inner nodes with a 40-byte block, plus the values.
        assert!(t.trie_bytes() < 2_500_000, "{}", t.trie_bytes());
    }

    #[test]
    fn thread_safe() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PrefixTable<String>>();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn agrees_with_naive_scan(
            entries in prop::collection::vec(("[0-9]{0,5}", any::<u16>()), 0..60),
            numbers in prop::collection::vec("[0-9]{0,8}", 1..30),
        ) {
            let mut t = PrefixTable::new();
            let mut naive: BTreeMap<String, u16> = BTreeMap::new();
            for (p, v) in &entries {
                let old = t.insert(p.as_bytes(), *v).unwrap();
                prop_assert_eq!(old, naive.insert(p.clone(), *v));
            }
            prop_assert_eq!(t.len(), naive.len());
            for n in &numbers {
                let want = naive
                    .iter()
                    .filter(|(p, _)| n.starts_with(p.as_str()))
                    .max_by_key(|(p, _)| p.len())
                    .map(|(p, v)| (p.len(), v));
                prop_assert_eq!(t.longest_match(n.as_bytes()), want);
                prop_assert_eq!(t.get_exact(n.as_bytes()), naive.get(n));
            }
            let listed: Vec<(String, u16)> = t.iter().map(|(p, v)| (p, *v)).collect();
            let want: Vec<(String, u16)> = naive.into_iter().collect();
            prop_assert_eq!(listed, want);
        }
    }
}
