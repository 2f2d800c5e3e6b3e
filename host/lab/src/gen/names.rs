//! Login names: first initial + surname from pools that match each site.

use std::collections::HashMap;

use rand::Rng;

use super::catalog::{BERLIN, DUBLIN, LONDON, MANILA};

const FIRST_PH: &[&str] = &[
    "maria", "jose", "angelica", "mark", "kristine", "john", "mary", "paolo", "jasmine", "carlo",
    "rica", "joseph", "lovely", "jericho", "camille", "ramon", "bea", "nino",
];
const SURNAME_PH: &[&str] = &[
    "reyes",
    "santos",
    "cruz",
    "bautista",
    "garcia",
    "mendoza",
    "ramos",
    "aquino",
    "castillo",
    "villanueva",
    "delacruz",
    "gonzales",
    "torres",
    "flores",
    "rivera",
    "aguilar",
    "navarro",
    "pascual",
    "soriano",
    "manalo",
    "dizon",
    "salazar",
    "fernandez",
    "lim",
    "tan",
    "domingo",
    "ocampo",
    "santiago",
    "delrosario",
    "mercado",
];
const FIRST_IE: &[&str] = &[
    "aoife", "sean", "niamh", "conor", "ciara", "patrick", "siobhan", "darragh", "orla", "liam",
    "grainne", "eoin", "roisin", "cian", "mary", "kevin",
];
const SURNAME_IE: &[&str] = &[
    "murphy",
    "kelly",
    "obrien",
    "byrne",
    "ryan",
    "walsh",
    "oconnor",
    "mccarthy",
    "doyle",
    "gallagher",
    "kennedy",
    "lynch",
    "murray",
    "quinn",
    "moore",
    "mclaughlin",
    "carroll",
    "connolly",
    "daly",
    "dunne",
    "brennan",
    "burke",
    "collins",
    "fitzgerald",
    "nolan",
];
const FIRST_US: &[&str] = &[
    "james", "michael", "jennifer", "sarah", "david", "jessica", "robert", "ashley", "chris",
    "emily", "daniel", "amanda", "matthew", "megan", "anthony", "laura", "brian", "nicole",
    "kevin", "rachel", "tyler", "olivia",
];
const SURNAME_US: &[&str] = &[
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "miller",
    "davis",
    "garcia",
    "rodriguez",
    "wilson",
    "martinez",
    "anderson",
    "taylor",
    "thomas",
    "hernandez",
    "moore",
    "martin",
    "jackson",
    "thompson",
    "white",
    "lopez",
    "lee",
    "gonzalez",
    "harris",
    "clark",
    "lewis",
    "robinson",
    "walker",
    "perez",
    "hall",
    "young",
    "allen",
    "sanchez",
    "wright",
    "king",
    "scott",
    "green",
    "baker",
    "adams",
    "nelson",
    "hill",
    "nguyen",
    "patel",
    "kim",
    "chen",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
];
const FIRST_DE: &[&str] = &[
    "lukas",
    "anna",
    "felix",
    "laura",
    "jonas",
    "lea",
    "maximilian",
    "sophie",
    "paul",
    "julia",
    "tobias",
    "katharina",
    "stefan",
    "miriam",
];
const SURNAME_DE: &[&str] = &[
    "mueller",
    "schmidt",
    "schneider",
    "fischer",
    "weber",
    "meyer",
    "wagner",
    "becker",
    "schulz",
    "hoffmann",
    "koch",
    "richter",
    "klein",
    "wolf",
    "schroeder",
    "neumann",
    "schwarz",
    "zimmermann",
    "braun",
    "krueger",
    "hartmann",
    "lange",
    "werner",
    "krause",
];
const FIRST_GB: &[&str] = &[
    "oliver", "amelia", "harry", "emily", "george", "isla", "jack", "sophie", "charlie", "grace",
    "thomas", "hannah", "william", "lucy",
];
const SURNAME_GB: &[&str] = &[
    "smith", "jones", "taylor", "brown", "williams", "wilson", "johnson", "davies", "patel",
    "wright", "evans", "thomas", "roberts", "walker", "khan", "hughes", "edwards", "green", "hall",
    "wood", "harris", "clarke", "jackson", "turner",
];

/// A login base (first initial + surname) drawn from name pools that match
/// the user's site, so Manila agents read like Manila agents.
pub(super) fn login_base(tz: u8, rng: &mut impl Rng) -> String {
    let (first, last) = match tz {
        MANILA => (FIRST_PH, SURNAME_PH),
        DUBLIN => (FIRST_IE, SURNAME_IE),
        BERLIN => (FIRST_DE, SURNAME_DE),
        LONDON => (FIRST_GB, SURNAME_GB),
        _ => (FIRST_US, SURNAME_US),
    };
    // Skew surname choice towards the head of the list, as real surnames are.
    let r: f64 = rng.random();
    let idx = ((r * r) * last.len() as f64) as usize;
    let f = first[rng.random_range(0..first.len())];
    let mut s = String::with_capacity(16);
    s.push_str(&f[..1]);
    s.push_str(last[idx.min(last.len() - 1)]);
    s
}

/// Every user's login, unique, packed in one string (a few bytes per user
/// rather than a `String` each). A base drawn twice gets a number: `jreyes`,
/// `jreyes2`, … in order of drawing. Both shapes name people this way.
#[derive(Default)]
pub(super) struct Logins {
    text: String,
    ends: Vec<u32>,
    counts: HashMap<String, u32>,
}

impl Logins {
    /// Adds the next user's login, made unique from `base`.
    pub(super) fn push(&mut self, base: String) {
        let n = self.counts.entry(base.clone()).or_insert(0);
        *n += 1;
        self.text.push_str(&base);
        if *n > 1 {
            self.text.push_str(&n.to_string());
        }
        self.ends.push(self.text.len() as u32);
    }

    /// Login of user `u`.
    pub(super) fn get(&self, u: u32) -> &str {
        let end = self.ends[u as usize] as usize;
        let start = if u == 0 {
            0
        } else {
            self.ends[u as usize - 1] as usize
        };
        &self.text[start..end]
    }

    /// Gives user `u` the login `name` (an account that is not a person,
    /// e.g. a service account); `name` must not be a login already.
    pub(super) fn rename(&mut self, u: u32, name: &str) {
        let mut text = String::with_capacity(self.text.len() + name.len());
        let mut ends = Vec::with_capacity(self.ends.len());
        for i in 0..self.ends.len() as u32 {
            text.push_str(if i == u { name } else { self.get(i) });
            ends.push(text.len() as u32);
        }
        self.text = text;
        self.ends = ends;
    }
}
