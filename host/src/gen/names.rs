//! Login names: first initial + surname from pools that match each site.

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
