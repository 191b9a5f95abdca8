//! Caller region: mobile segment → province, city, carrier, virtual-operator flag;
//! landline area code → province, city; international calling code → country.
//!
//! The tables are built at first load from the installed `phone` and `phonenumbers`
//! packages (the Python side reads them and hands the raw material over), never from
//! a hand-typed list. Installed once per process, swapped atomically.
//!
//! Every lookup is O(1): a dense array over the 700,000 possible segments
//! (1300000–1999999, 1.4 MB of packed `u16`), a dense array over the 1,000 possible
//! area codes, and a dense array over the 1,000 possible calling codes. Names are
//! stored once and referred to by a small place id.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::error::Error;
use crate::number::{self, CountryCodes, Kind, Number};

/// The first mobile segment (the first 7 digits of a mobile number).
pub const FIRST_SEGMENT: u32 = 1_300_000;
/// The last mobile segment.
pub const LAST_SEGMENT: u32 = 1_999_999;
const SEGMENTS: usize = (LAST_SEGMENT - FIRST_SEGMENT + 1) as usize;

/// The country of every domestic caller.
pub const CHINA: &str = "CN";

/// A mobile carrier, by original allocation (portability is invisible in public data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Carrier {
    Mobile,
    Unicom,
    Telecom,
    Broadnet,
}

impl Carrier {
    pub const ALL: [Carrier; 4] = [
        Carrier::Mobile,
        Carrier::Unicom,
        Carrier::Telecom,
        Carrier::Broadnet,
    ];

    /// The short Chinese name rules use (`移动`, `联通`, `电信`, `广电`).
    pub fn as_str(self) -> &'static str {
        match self {
            Carrier::Mobile => "移动",
            Carrier::Unicom => "联通",
            Carrier::Telecom => "电信",
            Carrier::Broadnet => "广电",
        }
    }

    pub fn parse(name: &str) -> Option<Carrier> {
        Carrier::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// `phone.dat`'s carrier type (1..=8) → carrier and virtual-operator flag.
    pub fn from_phone_type(t: u8) -> Option<(Carrier, bool)> {
        Some(match t {
            1 => (Carrier::Mobile, false),
            2 => (Carrier::Unicom, false),
            3 => (Carrier::Telecom, false),
            4 => (Carrier::Telecom, true),
            5 => (Carrier::Unicom, true),
            6 => (Carrier::Mobile, true),
            7 => (Carrier::Broadnet, false),
            8 => (Carrier::Broadnet, true),
            _ => return None,
        })
    }

    /// A `phonenumbers` carrier name (`中国移动`, `中国联通`, …) → carrier.
    pub fn from_phonenumbers(name: &str) -> Option<Carrier> {
        Carrier::ALL
            .into_iter()
            .find(|c| name.trim_start_matches("中国") == c.as_str())
    }

    fn code(self) -> u16 {
        match self {
            Carrier::Mobile => 1,
            Carrier::Unicom => 2,
            Carrier::Telecom => 3,
            Carrier::Broadnet => 4,
        }
    }

    fn from_code(code: u16) -> Option<Carrier> {
        Carrier::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// One record of `phone.dat`'s record area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneRecord<'a> {
    pub province: &'a str,
    pub city: &'a str,
    pub zip: &'a str,
    /// With its trunk `0` (`0755`).
    pub area_code: &'a str,
}

/// One index entry of `phone.dat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneEntry {
    pub segment: u32,
    /// Index into [`PhoneDat::records`].
    pub record: usize,
    /// The raw carrier type, 1..=8.
    pub carrier_type: u8,
}

/// The `phone` package's `phone.dat`, parsed: header `<4si` (version, offset of the
/// index), NUL-terminated `province|city|zip|area_code` records, then `<iiB>` index
/// entries (segment, record offset, carrier type).
#[derive(Debug, Clone)]
pub struct PhoneDat<'a> {
    pub version: &'a str,
    pub records: Vec<PhoneRecord<'a>>,
    pub entries: Vec<PhoneEntry>,
}

fn bad_data(what: &str, reason: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("{what}: {reason}"))
}

impl<'a> PhoneDat<'a> {
    /// Parses the file's bytes. O(n) in the file size.
    pub fn parse(buf: &'a [u8]) -> Result<PhoneDat<'a>, Error> {
        let err = |reason: String| bad_data("phone.dat", reason);
        if buf.len() < 8 {
            return Err(err(format!("{} bytes: shorter than its header", buf.len())));
        }
        let version =
            std::str::from_utf8(&buf[..4]).map_err(|_| err("version is not text".into()))?;
        let first = i32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let first = usize::try_from(first)
            .ok()
            .filter(|&f| (8..=buf.len()).contains(&f))
            .ok_or_else(|| err(format!("index offset {first} outside the file")))?;
        if (buf.len() - first) % 9 != 0 {
            return Err(err(format!(
                "index of {} bytes is not a whole number of 9-byte entries",
                buf.len() - first
            )));
        }

        let mut records = Vec::new();
        let mut by_offset = HashMap::new();
        let mut pos = 8;
        while pos < first {
            let len = buf[pos..first]
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(first - pos);
            if len > 0 {
                let text = std::str::from_utf8(&buf[pos..pos + len])
                    .map_err(|_| err(format!("record at byte {pos} is not UTF-8")))?;
                let mut fields = text.split('|');
                let mut next = || fields.next().unwrap_or_default();
                let record = PhoneRecord {
                    province: next(),
                    city: next(),
                    zip: next(),
                    area_code: next(),
                };
                if record.province.is_empty() {
                    return Err(err(format!(
                        "record at byte {pos} has no province: {text:?}"
                    )));
                }
                by_offset.insert(pos, records.len());
                records.push(record);
            }
            pos += len + 1;
        }

        let mut entries = Vec::with_capacity((buf.len() - first) / 9);
        for chunk in buf[first..].chunks_exact(9) {
            let segment = i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let offset = i32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            let carrier_type = chunk[8];
            let segment = u32::try_from(segment)
                .ok()
                .filter(|s| (FIRST_SEGMENT..=LAST_SEGMENT).contains(s))
                .ok_or_else(|| err(format!("segment {segment} outside 1300000..=1999999")))?;
            let record = usize::try_from(offset)
                .ok()
                .and_then(|o| by_offset.get(&o).copied())
                .ok_or_else(|| err(format!("segment {segment} points at no record ({offset})")))?;
            if Carrier::from_phone_type(carrier_type).is_none() {
                return Err(err(format!(
                    "segment {segment} has carrier type {carrier_type}, not 1..=8"
                )));
            }
            entries.push(PhoneEntry {
                segment,
                record,
                carrier_type,
            });
        }
        Ok(PhoneDat {
            version,
            records,
            entries,
        })
    }
}

/// What the Python side extracts from `phonenumbers`, one fact a line, tab-separated:
/// `g PREFIX DESCRIPTION` (zh geodata of +86, prefix with its `86`), `c PREFIX CARRIER`
/// (zh carrier data of +86), `n CODE REGION` (calling code → main ISO region),
/// `a NPA REGION` (a NANP area code of a region other than the main one of +1),
/// `p PREFIX REGION` (calling code and leading digits of a region sharing a code other
/// than +1 that are not its main region's: `77 KZ`).
#[derive(Debug, Clone, Default)]
pub struct PhonenumbersData<'a> {
    pub geo: Vec<(&'a str, &'a str)>,
    pub carriers: Vec<(&'a str, &'a str)>,
    pub countries: Vec<(u16, &'a str)>,
    pub nanp: Vec<(u16, &'a str)>,
    pub shared: Vec<(&'a str, &'a str)>,
}

impl<'a> PhonenumbersData<'a> {
    /// Parses the material text. O(n).
    pub fn parse(text: &'a str) -> Result<PhonenumbersData<'a>, Error> {
        let mut out = PhonenumbersData::default();
        for (i, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let err = |reason: &str| {
                bad_data(
                    "phonenumbers material",
                    format!("line {}: {reason}: {line:?}", i + 1),
                )
            };
            let mut parts = line.splitn(3, '\t');
            let (Some(tag), Some(key), Some(value)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(err("expected three tab-separated fields"));
            };
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("key is not digits"));
            }
            let code = || {
                key.parse::<u16>()
                    .ok()
                    .filter(|&c| c < 1000)
                    .ok_or_else(|| err("code is not 0..=999"))
            };
            match tag {
                "g" => out.geo.push((key, value)),
                "c" => out.carriers.push((key, value)),
                "n" => out.countries.push((code()?, value)),
                "a" => out.nanp.push((code()?, value)),
                "p" => out.shared.push((key, value)),
                _ => return Err(err("unknown tag")),
            }
        }
        Ok(out)
    }
}

/// Where a caller is from. Empty strings where unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Region<'a> {
    pub province: &'a str,
    pub city: &'a str,
    pub carrier: &'a str,
    pub virtual_operator: bool,
    pub country: &'a str,
}

/// A mobile segment's facts in 16 bits: place id (bits 0..12), carrier code (12..15),
/// virtual-operator flag (15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Packed(u16);

const PLACE_BITS: u16 = 12;
const PLACE_MASK: u16 = (1 << PLACE_BITS) - 1;
const VIRTUAL_BIT: u16 = 1 << 15;
/// In the area-code table: the area code has sub-ranges that map elsewhere.
const SUB_RANGE_BIT: u16 = 1 << 15;

impl Packed {
    fn new(place: u16, carrier: Option<Carrier>, virtual_operator: bool) -> Packed {
        let carrier = carrier.map_or(0, Carrier::code);
        Packed(place | (carrier << PLACE_BITS) | if virtual_operator { VIRTUAL_BIT } else { 0 })
    }
    fn place(self) -> u16 {
        self.0 & PLACE_MASK
    }
    fn carrier(self) -> Option<Carrier> {
        Carrier::from_code((self.0 >> PLACE_BITS) & 0b111)
    }
    fn virtual_operator(self) -> bool {
        self.0 & VIRTUAL_BIT != 0
    }
}

/// Where each segment's facts came from (for the agreement report and the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BuildStats {
    /// Segments from `phone.dat`.
    pub from_phone: usize,
    /// Segments `phone` lacks that `phonenumbers` gave a region or carrier.
    pub from_phonenumbers: usize,
    /// Of those, how many have a province but no city `phone` knows.
    pub province_only: usize,
    /// Area codes with a region.
    pub area_codes: usize,
    /// Calling codes known.
    pub calling_codes: usize,
}

/// Region tables; see the module docs.
#[derive(Debug)]
pub struct RegionTables {
    /// Place id → (province, city); id 0 is "nowhere", a city may be empty.
    places: Vec<(Box<str>, Box<str>)>,
    segments: Vec<Packed>,
    /// Area code (as a number: 10, 20..=29, 300..=999) → place id, plus [`SUB_RANGE_BIT`].
    areas: Vec<u16>,
    /// Digits after the trunk `0`, as a [`crate::number::Digits::key`] → place id.
    sub_ranges: HashMap<u64, u16>,
    sub_range_max: usize,
    countries: Vec<Option<Box<str>>>,
    /// NANP area code → index into `nanp_regions` + 1; 0 is the main region of +1.
    nanp: Vec<u8>,
    nanp_regions: Vec<Box<str>>,
    /// Digits after the international `00` that give a region other than its calling
    /// code's main one (`77` → KZ), longest first: a few dozen, scanned.
    shared_prefixes: Vec<(Box<str>, Box<str>)>,
    stats: BuildStats,
}

impl Default for RegionTables {
    fn default() -> Self {
        RegionTables {
            places: vec![(Box::from(""), Box::from(""))],
            segments: vec![Packed::default(); SEGMENTS],
            areas: vec![0; 1000],
            sub_ranges: HashMap::new(),
            sub_range_max: 0,
            countries: vec![None; 1000],
            nanp: vec![0; 1000],
            nanp_regions: Vec::new(),
            shared_prefixes: Vec::new(),
            stats: BuildStats::default(),
        }
    }
}

/// Interns places while building.
struct Places<'a> {
    list: Vec<(&'a str, &'a str)>,
    ids: HashMap<(&'a str, &'a str), u16>,
}

impl<'a> Places<'a> {
    fn new() -> Self {
        Places {
            list: vec![("", "")],
            ids: HashMap::from([(("", ""), 0)]),
        }
    }

    fn intern(&mut self, province: &'a str, city: &'a str) -> Result<u16, Error> {
        if let Some(&id) = self.ids.get(&(province, city)) {
            return Ok(id);
        }
        let id = u16::try_from(self.list.len())
            .ok()
            .filter(|&id| id <= PLACE_MASK)
            .ok_or_else(|| bad_data("phone.dat", "more than 4095 places"))?;
        self.list.push((province, city));
        self.ids.insert((province, city), id);
        Ok(id)
    }
}

/// Names places from descriptions while building, remembering each answer.
struct Namer<'a> {
    places: Places<'a>,
    /// The places `phone` names (before any province-only place is added).
    phone_places: Vec<(&'a str, &'a str)>,
    /// Segments per place, to choose among an area code's records when none is named.
    weights: Vec<usize>,
    memo: HashMap<(&'a str, Vec<u16>), u16>,
}

impl<'a> Namer<'a> {
    fn place_of(&mut self, desc: &'a str, candidates: &[u16]) -> Result<u16, Error> {
        let key = (desc, candidates.to_vec());
        if let Some(&id) = self.memo.get(&key) {
            return Ok(id);
        }
        let id = match match_description(&self.phone_places, &self.weights, desc, candidates) {
            None => 0,
            Some((_, Some(id))) => id,
            Some((province, None)) => self.places.intern(province, "")?,
        };
        self.memo.insert(key, id);
        Ok(id)
    }
}

/// Maps a `phonenumbers` description (`广东省深圳市`, `北京市`, `新疆维吾尔自治区乌鲁木齐市`,
/// `辽宁省沈阳市、铁岭市`) to `phone`'s short names: the longest province name the
/// description starts with, then the city of that province named earliest after it
/// (longest on a tie). A municipality (`北京市`) is its own city. `candidates` (place ids,
/// the `phone` records sharing a landline's area code) are preferred when one is named,
/// and the best of them in the province is taken when none is. O(number of places).
fn match_description<'p>(
    places: &[(&'p str, &'p str)],
    weights: &[usize],
    desc: &str,
    candidates: &[u16],
) -> Option<(&'p str, Option<u16>)> {
    let province = places
        .iter()
        .map(|p| p.0)
        .filter(|p| !p.is_empty() && desc.starts_with(p))
        .max_by_key(|p| p.len())?;
    let rest = &desc[province.len()..];
    let named = |ids: &mut dyn Iterator<Item = u16>| {
        ids.filter(|&id| places[id as usize].0 == province && !places[id as usize].1.is_empty())
            .filter_map(|id| rest.find(places[id as usize].1).map(|pos| (pos, id)))
            .min_by_key(|&(pos, id)| (pos, std::cmp::Reverse(places[id as usize].1.len())))
            .map(|(_, id)| id)
    };
    let all = 0..places.len() as u16;
    // A landline takes a city `phone` lists with its area code whenever one lies in the
    // province (numbers.md): `phonenumbers` may name the prefecture (`海西`) where
    // `phone` names the city that dials it (`格尔木`).
    let city = named(&mut candidates.iter().copied())
        .or_else(|| best_candidate(places, weights, candidates, Some(province)))
        .or_else(|| named(&mut all.clone()))
        // A municipality (`北京市`) is its own city.
        .or_else(|| {
            matches!(rest, "" | "市")
                .then(|| {
                    all.clone()
                        .find(|&id| places[id as usize] == (province, province))
                })
                .flatten()
        });
    Some((province, city))
}

/// The candidate (a place id) `phone` lists most often, in `province` if given; the
/// first listed on a tie. O(candidates).
fn best_candidate(
    places: &[(&str, &str)],
    weights: &[usize],
    candidates: &[u16],
    province: Option<&str>,
) -> Option<u16> {
    candidates
        .iter()
        .copied()
        .filter(|&id| province.is_none_or(|p| places[id as usize].0 == p))
        .max_by_key(|&id| {
            (
                weights.get(id as usize).copied().unwrap_or(0),
                std::cmp::Reverse(id),
            )
        })
}

/// The area code of `d` (digits after the trunk `0`) as an index into the area table.
fn area_index(after_trunk: &[u8]) -> Option<usize> {
    let len = if after_trunk.starts_with(b"10") || after_trunk.starts_with(b"2") {
        2
    } else if after_trunk
        .first()
        .is_some_and(|d| (b'3'..=b'9').contains(d))
    {
        3
    } else {
        return None;
    };
    (after_trunk.len() >= len).then(|| digits_value(&after_trunk[..len]) as usize)
}

fn digits_value(d: &[u8]) -> u64 {
    d.iter().fold(0, |acc, x| acc * 10 + u64::from(x - b'0'))
}

fn digits_key(d: &[u8]) -> u64 {
    number::Digits::from_ascii(d)
        .and_then(|d| d.key())
        .unwrap_or(u64::MAX)
}

impl RegionTables {
    /// Builds the tables from `phone.dat`'s bytes and the `phonenumbers` material
    /// (see [`PhonenumbersData`]). O(segments + entries), about 700,000 steps.
    pub fn build(phone_dat: &[u8], phonenumbers: &str) -> Result<RegionTables, Error> {
        let phone = PhoneDat::parse(phone_dat)?;
        let pn = PhonenumbersData::parse(phonenumbers)?;
        RegionTables::from_sources(&phone, &pn)
    }

    /// [`RegionTables::build`] from parsed sources.
    pub fn from_sources<'a>(
        phone: &PhoneDat<'a>,
        pn: &PhonenumbersData<'a>,
    ) -> Result<RegionTables, Error> {
        let mut places = Places::new();
        let record_place = phone
            .records
            .iter()
            .map(|r| places.intern(r.province, r.city))
            .collect::<Result<Vec<_>, _>>()?;
        // Every city phone knows is interned before any province-only place,
        // so the matcher sees all of them.
        let phone_places = places.list.clone();
        let mut weights = vec![0usize; phone_places.len()];
        let mut tables = RegionTables::default();

        let mut covered = vec![false; SEGMENTS];
        for e in &phone.entries {
            let (carrier, virtual_operator) =
                Carrier::from_phone_type(e.carrier_type).unwrap_or((Carrier::Mobile, false));
            let place = record_place[e.record];
            weights[place as usize] += 1;
            let i = (e.segment - FIRST_SEGMENT) as usize;
            tables.segments[i] = Packed::new(place, Some(carrier), virtual_operator);
            covered[i] = true;
        }
        tables.stats.from_phone = covered.iter().filter(|&&c| c).count();

        let mut namer = Namer {
            places,
            phone_places,
            weights,
            memo: HashMap::new(),
        };

        // Segments phone lacks: longest prefix in phonenumbers. Filling by key length,
        // shortest first, makes each segment end with its longest prefix's value.
        let mut pn_place = vec![0u16; SEGMENTS];
        let mut pn_carrier: Vec<Option<Carrier>> = vec![None; SEGMENTS];
        let mobile_keys = |facts: &[(&str, &str)]| {
            let mut keys: Vec<(usize, u32, u32, usize)> = facts
                .iter()
                .enumerate()
                .filter_map(|(i, (prefix, _))| {
                    let d = prefix.strip_prefix("86")?.as_bytes();
                    if d.is_empty()
                        || d.len() > 7
                        || d[0] != b'1'
                        || (d.len() > 1 && !(b'3'..=b'9').contains(&d[1]))
                    {
                        return None;
                    }
                    let scale = 10u32.pow(7 - d.len() as u32);
                    let lo = (digits_value(d) as u32 * scale).max(FIRST_SEGMENT);
                    let hi = (digits_value(d) as u32 * scale + scale - 1).min(LAST_SEGMENT);
                    (lo <= hi).then_some((d.len(), lo, hi, i))
                })
                .collect();
            keys.sort_unstable();
            keys
        };
        for (_, lo, hi, i) in mobile_keys(&pn.geo) {
            let id = namer.place_of(pn.geo[i].1, &[])?;
            pn_place[(lo - FIRST_SEGMENT) as usize..=(hi - FIRST_SEGMENT) as usize].fill(id);
        }
        for (_, lo, hi, i) in mobile_keys(&pn.carriers) {
            let carrier = Carrier::from_phonenumbers(pn.carriers[i].1);
            pn_carrier[(lo - FIRST_SEGMENT) as usize..=(hi - FIRST_SEGMENT) as usize].fill(carrier);
        }
        for i in (0..SEGMENTS).filter(|&i| !covered[i]) {
            if pn_place[i] != 0 || pn_carrier[i].is_some() {
                tables.segments[i] = Packed::new(pn_place[i], pn_carrier[i], false);
                tables.stats.from_phonenumbers += 1;
                if pn_place[i] != 0 && namer.places.list[pn_place[i] as usize].1.is_empty() {
                    tables.stats.province_only += 1;
                }
            }
        }

        // Landlines: phone records sharing an area code are the candidate names. A name no
        // segment uses (`phone` keeps records for `克孜勒苏` beside `克州`, which its segments
        // of 0908 name) is a candidate only where no used one is, so that a landline takes the
        // name its mobiles have and one rule (`新疆/克州`) covers both.
        let mut by_area: HashMap<&str, Vec<u16>> = HashMap::new();
        for (r, &place) in phone.records.iter().zip(&record_place) {
            if let Some(code) = r.area_code.strip_prefix('0') {
                let ids = by_area.entry(code).or_default();
                if !ids.contains(&place) {
                    ids.push(place);
                }
            }
        }
        let weights = &namer.weights;
        for ids in by_area.values_mut() {
            if ids.iter().any(|&id| weights[id as usize] > 0) {
                ids.retain(|&id| weights[id as usize] > 0);
            }
        }
        let mut land: Vec<(&[u8], &str)> = pn
            .geo
            .iter()
            .filter_map(|&(prefix, desc)| {
                let d = prefix.strip_prefix("86")?.as_bytes();
                let landline =
                    d.starts_with(b"10") || d.first().is_some_and(|c| (b'2'..=b'9').contains(c));
                landline.then_some((d, desc))
            })
            .collect();
        land.sort_unstable_by_key(|(d, _)| (d.len(), *d));
        let area_codes = (10..=10)
            .chain(20..=29)
            .chain(300..=999)
            .map(|a: u32| a.to_string());
        for code in area_codes {
            let candidates = by_area.get(code.as_str()).map_or(&[][..], Vec::as_slice);
            let described = land
                .iter()
                .rev()
                .find(|(d, _)| d.len() <= code.len() && code.as_bytes().starts_with(d));
            let id = match described {
                Some(&(_, desc)) => namer.place_of(desc, candidates)?,
                // `phonenumbers` does not know it (0634, 莱芜): `phone` alone names it.
                None => match best_candidate(&namer.phone_places, &namer.weights, candidates, None)
                {
                    Some(id) => id,
                    None => continue,
                },
            };
            tables.areas[digits_value(code.as_bytes()) as usize] = id;
        }
        // A sub-range (`8624100`) matters only where some sub-range of its area code maps
        // elsewhere; such an area code keeps all of its sub-ranges for the longest match.
        let mut subs = Vec::new();
        for &(d, desc) in &land {
            let Some(area) = area_index(d) else { continue };
            let area_len = if area < 100 { 2 } else { 3 };
            if d.len() <= area_len {
                continue;
            }
            let code = std::str::from_utf8(&d[..area_len]).unwrap_or_default();
            let candidates = by_area.get(code).map_or(&[][..], Vec::as_slice);
            let id = namer.place_of(desc, candidates)?;
            if id != tables.areas[area] & !SUB_RANGE_BIT {
                tables.areas[area] |= SUB_RANGE_BIT;
            }
            subs.push((area, d, id));
        }
        for (area, d, id) in subs {
            if tables.areas[area] & SUB_RANGE_BIT != 0 {
                tables.sub_ranges.insert(digits_key(d), id);
                tables.sub_range_max = tables.sub_range_max.max(d.len());
            }
        }
        tables.stats.area_codes = tables
            .areas
            .iter()
            .filter(|&&a| a & !SUB_RANGE_BIT != 0)
            .count();

        for &(code, region) in &pn.countries {
            tables.countries[code as usize] = Some(Box::from(region));
        }
        tables.stats.calling_codes = tables.countries.iter().filter(|c| c.is_some()).count();
        for &(npa, region) in &pn.nanp {
            let idx = if let Some(i) = tables.nanp_regions.iter().position(|r| &**r == region) {
                i
            } else {
                tables.nanp_regions.push(Box::from(region));
                tables.nanp_regions.len() - 1
            };
            tables.nanp[npa as usize] = u8::try_from(idx + 1)
                .map_err(|_| bad_data("phonenumbers material", "more than 254 NANP regions"))?;
        }

        tables.shared_prefixes = pn
            .shared
            .iter()
            .map(|&(prefix, region)| (Box::from(prefix), Box::from(region)))
            .collect();
        tables
            .shared_prefixes
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));

        tables.places = namer
            .places
            .list
            .iter()
            .map(|&(p, c)| (Box::from(p), Box::from(c)))
            .collect();
        Ok(tables)
    }

    /// O(1) lookup of a normalised number's region.
    pub fn lookup(&self, number: &Number) -> Region<'_> {
        match number.kind {
            Kind::Mobile => self.mobile(number),
            Kind::Landline => self.landline(number),
            Kind::Service => Region {
                country: CHINA,
                ..Region::default()
            },
            Kind::International => Region {
                country: self.international(number).unwrap_or_default(),
                ..Region::default()
            },
            Kind::Anonymous | Kind::Unknown => Region::default(),
        }
    }

    fn place(&self, id: u16) -> (&str, &str) {
        let (p, c) = &self.places[id as usize];
        (p, c)
    }

    fn mobile(&self, number: &Number) -> Region<'_> {
        let segment = digits_value(&number.digits.as_bytes()[..7]) as u32;
        let packed = segment
            .checked_sub(FIRST_SEGMENT)
            .and_then(|i| self.segments.get(i as usize))
            .copied()
            .unwrap_or_default();
        let (province, city) = self.place(packed.place());
        Region {
            province,
            city,
            carrier: packed.carrier().map_or("", Carrier::as_str),
            virtual_operator: packed.virtual_operator(),
            country: CHINA,
        }
    }

    fn landline(&self, number: &Number) -> Region<'_> {
        let after_trunk = &number.digits.as_bytes()[1..];
        let mut id = area_index(after_trunk).map_or(0, |a| self.areas[a]);
        if id & SUB_RANGE_BIT != 0 {
            let longest = self.sub_range_max.min(after_trunk.len());
            id = (1..=longest)
                .rev()
                .find_map(|len| {
                    self.sub_ranges
                        .get(&digits_key(&after_trunk[..len]))
                        .copied()
                })
                .unwrap_or(id & !SUB_RANGE_BIT);
        }
        let (province, city) = self.place(id);
        Region {
            province,
            city,
            country: CHINA,
            ..Region::default()
        }
    }

    fn international(&self, number: &Number) -> Option<&str> {
        let code = number::calling_code(number, self)?;
        let country = self.country_of(code)?;
        let d = number.digits.as_bytes();
        if code == 1 {
            if d.len() >= 6 {
                let npa = digits_value(&d[3..6]) as usize;
                if let Some(i) = self.nanp[npa].checked_sub(1) {
                    return Some(&self.nanp_regions[i as usize]);
                }
            }
        } else if let Some((_, region)) = self
            .shared_prefixes
            .iter()
            .find(|(prefix, _)| d[2..].starts_with(prefix.as_bytes()))
        {
            return Some(region);
        }
        Some(country)
    }

    /// The province and city names `phone` lists (a province's cities in first-seen order).
    /// O(places).
    pub fn places(&self) -> impl Iterator<Item = (&str, &str)> {
        self.places
            .iter()
            .map(|(p, c)| (&**p, &**c))
            .filter(|(_, c)| !c.is_empty())
    }

    /// Maps a `phonenumbers` zh description to `phone`'s (province, city) the way the
    /// tables were built (city empty where `phone` has no matching city); `None` if no
    /// province is named. O(places).
    pub fn match_description(&self, desc: &str) -> Option<(&str, &str)> {
        let list: Vec<(&str, &str)> = self.places.iter().map(|(p, c)| (&**p, &**c)).collect();
        let (province, city) = match_description(&list, &[], desc, &[])?;
        let province = self
            .places
            .iter()
            .find(|p| &*p.0 == province)
            .map(|p| &*p.0)?;
        Some((province, city.map_or("", |id| self.place(id).1)))
    }

    /// Where the facts came from.
    pub fn stats(&self) -> BuildStats {
        self.stats
    }
}

impl CountryCodes for RegionTables {
    fn country_of(&self, calling_code: u16) -> Option<&str> {
        self.countries.get(calling_code as usize)?.as_deref()
    }
}

static TABLES: ArcSwapOption<RegionTables> = ArcSwapOption::const_empty();

/// Installs the process-wide tables (replacing any earlier ones).
pub fn install(tables: RegionTables) {
    TABLES.store(Some(Arc::new(tables)));
}

/// The installed tables, if any.
pub fn tables() -> Option<Arc<RegionTables>> {
    TABLES.load_full()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::normalize;
    use proptest::prelude::*;

    /// Writes a `phone.dat` in the package's format.
    fn phone_dat(records: &[&str], entries: &[(u32, usize, u8)]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut offsets = Vec::new();
        for r in records {
            offsets.push(8 + body.len());
            body.extend_from_slice(r.as_bytes());
            body.push(0);
        }
        let mut out = b"2312".to_vec();
        out.extend_from_slice(&((8 + body.len()) as i32).to_le_bytes());
        out.extend_from_slice(&body);
        for &(seg, rec, t) in entries {
            out.extend_from_slice(&(seg as i32).to_le_bytes());
            out.extend_from_slice(&(offsets[rec] as i32).to_le_bytes());
            out.push(t);
        }
        out
    }

    const RECORDS: [&str; 9] = [
        "北京|北京|100000|010",
        "广东|深圳|518000|0755",
        "福建|厦门|361000|0592",
        "四川|眉山|620000|028",
        "四川|成都|610000|028",
        "吉林|延吉|133000|0433",
        "吉林|延边|133000|0433",
        "吉林|吉林|132000|0432",
        "湖北|襄阳|441000|0710",
    ];

    fn sample() -> &'static RegionTables {
        static TABLES: std::sync::LazyLock<RegionTables> = std::sync::LazyLock::new(build_sample);
        &TABLES
    }

    fn build_sample() -> RegionTables {
        let dat = phone_dat(
            &RECORDS,
            &[
                (1_380_013, 0, 1),
                (1_710_123, 2, 5),
                (1_590_755, 1, 1),
                (1_700_000, 1, 4),
                (1_920_000, 1, 8),
                (1_330_000, 6, 3),
                (1_330_001, 6, 3),
                (1_330_002, 5, 3),
            ],
        );
        let material = "\
g\t8610\t北京市
g\t8610100\t北京市
g\t8620\t广东省广州市
g\t8628\t四川省成都市、资阳市、眉山市
g\t86433\t吉林省延边朝鲜族自治州
g\t86432\t吉林省吉林市
g\t86710\t湖北省襄樊市
g\t86755\t广东省深圳市
g\t86755100\t福建省厦门市
g\t8675512\t广东省深圳市
g\t861990000\t广东省深圳市
g\t86199001\t吉林省长春市
g\t86145\t中国
c\t86199\t中国电信
c\t86140\t中国移动
c\t861380013\t中国联通
n\t1\tUS
n\t44\tGB
n\t7\tRU
n\t86\tCN
n\t800\t001
a\t416\tCA
a\t268\tAG
p\t77\tKZ
p\t447624\tIM
";
        RegionTables::build(&dat, material).unwrap()
    }

    fn region(t: &RegionTables, s: &str) -> (String, String, String, bool, String) {
        let n = normalize(s, t).unwrap();
        let r = t.lookup(&n);
        (
            r.province.into(),
            r.city.into(),
            r.carrier.into(),
            r.virtual_operator,
            r.country.into(),
        )
    }

    fn r(
        province: &str,
        city: &str,
        carrier: &str,
        virtual_operator: bool,
        country: &str,
    ) -> (String, String, String, bool, String) {
        (
            province.into(),
            city.into(),
            carrier.into(),
            virtual_operator,
            country.into(),
        )
    }

    #[test]
    fn phone_segments_win_with_their_virtual_flag() {
        let t = sample();
        assert_eq!(
            region(t, "13800138000"),
            r("北京", "北京", "移动", false, "CN")
        );
        assert_eq!(
            region(t, "17101230000"),
            r("福建", "厦门", "联通", true, "CN")
        );
        assert_eq!(
            region(t, "17000000000"),
            r("广东", "深圳", "电信", true, "CN")
        );
        assert_eq!(
            region(t, "19200000000"),
            r("广东", "深圳", "广电", true, "CN")
        );
        assert_eq!(t.stats().from_phone, 8);
    }

    #[test]
    fn segments_phone_lacks_come_from_phonenumbers_without_a_virtual_flag() {
        let t = sample();
        assert_eq!(
            region(t, "19900001234"),
            r("广东", "深圳", "电信", false, "CN")
        );
        // The longer prefix 86199001 wins over 861990 for its ten segments.
        assert_eq!(region(t, "19900101234"), r("吉林", "", "电信", false, "CN"));
        // "中国" names no province: carrier only.
        assert_eq!(region(t, "14000000000"), r("", "", "移动", false, "CN"));
        assert_eq!(region(t, "14500000000"), r("", "", "", false, "CN"));
        assert_eq!(region(t, "16600000000"), r("", "", "", false, "CN"));
    }

    #[test]
    fn landlines_take_the_first_city_phone_lists_for_their_area_code() {
        let t = sample();
        assert_eq!(region(t, "01012345678"), r("北京", "北京", "", false, "CN"));
        assert_eq!(region(t, "02887654321"), r("四川", "成都", "", false, "CN"));
        assert_eq!(
            region(t, "075586000000"),
            r("广东", "深圳", "", false, "CN")
        );
        // Named differently by the two sources (襄樊/襄阳): phone's only record for 0710.
        assert_eq!(region(t, "07101234567"), r("湖北", "襄阳", "", false, "CN"));
        // 延边 is named; the 吉林 at the start of 吉林省 is the province, not the city.
        assert_eq!(region(t, "04331234567"), r("吉林", "延边", "", false, "CN"));
        assert_eq!(region(t, "04321234567"), r("吉林", "吉林", "", false, "CN"));
        // A city phone lacks: province only.
        assert_eq!(region(t, "02012345678"), r("广东", "", "", false, "CN"));
        // No data: country only.
        assert_eq!(region(t, "09991234567"), r("", "", "", false, "CN"));
    }

    #[test]
    fn sub_ranges_that_map_elsewhere_win_by_longest_prefix() {
        let t = sample();
        assert_eq!(
            region(t, "075510012345"),
            r("福建", "厦门", "", false, "CN")
        );
        assert_eq!(
            region(t, "075512012345"),
            r("广东", "深圳", "", false, "CN")
        );
        assert_eq!(
            region(t, "075520012345"),
            r("广东", "深圳", "", false, "CN")
        );
        // 8610100 maps where 8610 does: area 010 keeps no sub-range.
        assert_eq!(t.areas[10] & SUB_RANGE_BIT, 0);
        assert_ne!(t.areas[755] & SUB_RANGE_BIT, 0);
        assert_eq!(t.sub_ranges.len(), 2);
    }

    #[test]
    fn international_service_and_the_rest() {
        let t = sample();
        assert_eq!(region(t, "+1 415 555 0100"), r("", "", "", false, "US"));
        assert_eq!(region(t, "+1 416 555 0100"), r("", "", "", false, "CA"));
        assert_eq!(region(t, "+1 268 555 0100"), r("", "", "", false, "AG"));
        assert_eq!(region(t, "+44 20 7946 0000"), r("", "", "", false, "GB"));
        // Regions sharing a code by leading digits; the rest of the code is its main one.
        assert_eq!(region(t, "+7 712 345 6789"), r("", "", "", false, "KZ"));
        assert_eq!(region(t, "+7 495 123 4567"), r("", "", "", false, "RU"));
        assert_eq!(region(t, "+44 7624 123456"), r("", "", "", false, "IM"));
        assert_eq!(region(t, "+44 7625 123456"), r("", "", "", false, "GB"));
        assert_eq!(region(t, "+800 1234 5678"), r("", "", "", false, "001"));
        assert_eq!(normalize("+999 1234", t).unwrap().kind, Kind::Unknown);
        assert_eq!(region(t, "4001234567"), r("", "", "", false, "CN"));
        assert_eq!(region(t, "95588"), r("", "", "", false, "CN"));
        assert_eq!(region(t, "12"), r("", "", "", false, ""));
        assert_eq!(region(t, ""), r("", "", "", false, ""));
    }

    #[test]
    fn names_come_from_phone() {
        let t = sample();
        let places: Vec<_> = t.places().collect();
        assert_eq!(places.len(), RECORDS.len());
        assert!(places.contains(&("吉林", "延边")));
        assert!(!places.iter().any(|(_, c)| c.is_empty()));
        assert_eq!(t.match_description("广东省深圳市"), Some(("广东", "深圳")));
        assert_eq!(
            t.match_description("吉林省延边朝鲜族自治州"),
            Some(("吉林", "延边"))
        );
        assert_eq!(t.match_description("北京市"), Some(("北京", "北京")));
        assert_eq!(t.match_description("广东省广州市"), Some(("广东", "")));
        assert_eq!(t.match_description("中国"), None);
    }

    #[test]
    fn malformed_phone_dat_is_refused() {
        assert!(PhoneDat::parse(b"23").is_err());
        let mut dat = phone_dat(&RECORDS, &[(1_380_013, 0, 1)]);
        dat.push(0);
        assert!(PhoneDat::parse(&dat)
            .unwrap_err()
            .to_string()
            .contains("9-byte"));
        let dat = phone_dat(&RECORDS, &[(1_380_013, 0, 9)]);
        assert!(PhoneDat::parse(&dat)
            .unwrap_err()
            .to_string()
            .contains("carrier type 9"));
        let dat = phone_dat(&RECORDS, &[(1_200_000, 0, 1)]);
        assert!(PhoneDat::parse(&dat)
            .unwrap_err()
            .to_string()
            .contains("outside"));
        assert!(PhonenumbersData::parse("g\t86x\t北京").is_err());
        assert!(PhonenumbersData::parse("z\t86\tCN").is_err());
        assert!(PhonenumbersData::parse("n\t8600\tCN").is_err());
    }

    #[test]
    fn carriers_round_trip() {
        for t in 1..=8 {
            let (c, v) = Carrier::from_phone_type(t).unwrap();
            assert_eq!(Carrier::parse(c.as_str()), Some(c));
            assert_eq!(v, [4, 5, 6, 8].contains(&t));
            let p = Packed::new(4095, Some(c), v);
            assert_eq!(
                (p.place(), p.carrier(), p.virtual_operator()),
                (4095, Some(c), v)
            );
        }
        assert_eq!(
            Carrier::from_phonenumbers("中国广电"),
            Some(Carrier::Broadnet)
        );
        assert_eq!(Carrier::from_phonenumbers("中国卫通"), None);
    }

    proptest! {
        #[test]
        fn every_number_has_a_lookup(s in "[0-9+]{0,20}") {
            let t = sample();
            if let Ok(n) = normalize(&s, t) {
                let r = t.lookup(&n);
                let domestic = matches!(n.kind, Kind::Mobile | Kind::Landline | Kind::Service);
                prop_assert_eq!(r.country == CHINA, domestic);
                prop_assert!(r.province.is_empty() || n.kind != Kind::International);
            }
        }
    }
}
