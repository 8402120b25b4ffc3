//! Container names: Docker's generator of `adjective_surname` names and its name rule.
// Ref: moby pkg/namesgenerator/names-generator.go (lists as of Docker 27), daemon/names.go.

use crate::error::{ApiError, Result};
use crate::util::random_hex;

/// Docker's adjectives, in its order.
const LEFT: [&str; 108] = [
    "admiring",
    "adoring",
    "affectionate",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "beautiful",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "condescending",
    "confident",
    "cool",
    "cranky",
    "crazy",
    "dazzling",
    "determined",
    "distracted",
    "dreamy",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "eloquent",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "flamboyant",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "great",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "interesting",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "recursing",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "unruffled",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

/// Docker's notable scientists and hackers, in its order.
const RIGHT: [&str; 236] = [
    "agnesi",
    "albattani",
    "allen",
    "almeida",
    "antonelli",
    "archimedes",
    "ardinghelli",
    "aryabhata",
    "austin",
    "babbage",
    "banach",
    "banzai",
    "bardeen",
    "bartik",
    "bassi",
    "beaver",
    "bell",
    "benz",
    "bhabha",
    "bhaskara",
    "black",
    "blackburn",
    "blackwell",
    "bohr",
    "booth",
    "borg",
    "bose",
    "bouman",
    "boyd",
    "brahmagupta",
    "brattain",
    "brown",
    "buck",
    "burnell",
    "cannon",
    "carson",
    "cartwright",
    "carver",
    "cerf",
    "chandrasekhar",
    "chaplygin",
    "chatelet",
    "chatterjee",
    "chaum",
    "chebyshev",
    "clarke",
    "cohen",
    "colden",
    "cori",
    "cray",
    "curie",
    "curran",
    "darwin",
    "davinci",
    "dewdney",
    "dhawan",
    "diffie",
    "dijkstra",
    "dirac",
    "driscoll",
    "dubinsky",
    "easley",
    "edison",
    "einstein",
    "elbakyan",
    "elgamal",
    "elion",
    "ellis",
    "engelbart",
    "euclid",
    "euler",
    "faraday",
    "feistel",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "gagarin",
    "galileo",
    "galois",
    "ganguly",
    "gates",
    "gauss",
    "germain",
    "goldberg",
    "goldstine",
    "goldwasser",
    "golick",
    "goodall",
    "gould",
    "greider",
    "grothendieck",
    "haibt",
    "hamilton",
    "haslett",
    "hawking",
    "heisenberg",
    "hellman",
    "hermann",
    "herschel",
    "hertz",
    "heyrovsky",
    "hodgkin",
    "hofstadter",
    "hoover",
    "hopper",
    "hugle",
    "hypatia",
    "ishizaka",
    "jackson",
    "jang",
    "jemison",
    "jennings",
    "jepsen",
    "johnson",
    "joliot",
    "jones",
    "kalam",
    "kapitsa",
    "kare",
    "keldysh",
    "keller",
    "kepler",
    "khayyam",
    "khorana",
    "kilby",
    "kirch",
    "knuth",
    "kowalevski",
    "lalande",
    "lamarr",
    "lamport",
    "leakey",
    "leavitt",
    "lederberg",
    "lehmann",
    "lewin",
    "lichterman",
    "liskov",
    "lovelace",
    "lumiere",
    "mahavira",
    "margulis",
    "matsumoto",
    "maxwell",
    "mayer",
    "mccarthy",
    "mcclintock",
    "mclaren",
    "mclean",
    "mcnulty",
    "meitner",
    "mendel",
    "mendeleev",
    "meninsky",
    "merkle",
    "mestorf",
    "mirzakhani",
    "montalcini",
    "moore",
    "morse",
    "moser",
    "murdock",
    "napier",
    "nash",
    "neumann",
    "newton",
    "nightingale",
    "nobel",
    "noether",
    "northcutt",
    "noyce",
    "panini",
    "pare",
    "pascal",
    "pasteur",
    "payne",
    "perlman",
    "pike",
    "poincare",
    "poitras",
    "proskuriakova",
    "ptolemy",
    "raman",
    "ramanujan",
    "rhodes",
    "ride",
    "ritchie",
    "robinson",
    "roentgen",
    "rosalind",
    "rubin",
    "saha",
    "sammet",
    "sanderson",
    "satoshi",
    "shamir",
    "shannon",
    "shaw",
    "shirley",
    "shockley",
    "shtern",
    "sinoussi",
    "snyder",
    "solomon",
    "spence",
    "stonebraker",
    "sutherland",
    "swanson",
    "swartz",
    "swirles",
    "taussig",
    "tesla",
    "tharp",
    "thompson",
    "torvalds",
    "tu",
    "turing",
    "varahamihira",
    "vaughan",
    "villani",
    "visvesvaraya",
    "volhard",
    "wescoff",
    "wilbur",
    "wiles",
    "williams",
    "williamson",
    "wilson",
    "wing",
    "wozniak",
    "wright",
    "wu",
    "yalow",
    "yonath",
    "zhukovsky",
];

/// The characters a name may hold, as dockerd's error message spells them.
const NAME_CHARS: &str = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

/// A uniformly chosen index below `n` (the modulo bias of 64 random bits is below 2^-50).
fn pick(n: usize) -> usize {
    let r = u64::from_str_radix(&random_hex(8), 16).unwrap_or(0);
    (r % n as u64) as usize
}

/// A name such as `focused_turing`; from the second attempt on (`retry > 0`) a random digit is
/// appended (`focused_turing3`), as dockerd does when a generated name is taken.
pub fn random_name(retry: u32) -> String {
    loop {
        let name = format!("{}_{}", LEFT[pick(LEFT.len())], RIGHT[pick(RIGHT.len())]);
        // Steve Wozniak is not boring (Docker's own exception).
        if name == "boring_wozniak" {
            continue;
        }
        if retry > 0 {
            return format!("{name}{}", pick(10));
        }
        return name;
    }
}

/// Checks a client-chosen name against Docker's rule `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$` and returns it
/// without its leading slash.
pub fn validate_name(name: &str) -> Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let b = bare.as_bytes();
    let valid = b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if !valid {
        return Err(ApiError::invalid(format!(
            "Invalid container name ({name}), only {NAME_CHARS} are allowed"
        )));
    }
    Ok(bare.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    fn split(name: &str) -> (&str, &str) {
        name.split_once('_').expect("adjective_surname")
    }

    #[test]
    fn generated_names_come_from_the_lists() {
        for _ in 0..500 {
            let n = random_name(0);
            let (l, r) = split(&n);
            assert!(LEFT.contains(&l), "{n}");
            assert!(RIGHT.contains(&r), "{n}");
            assert_ne!(n, "boring_wozniak");
            assert!(validate_name(&n).is_ok(), "{n}");
        }
    }

    #[test]
    fn retries_append_a_digit() {
        for retry in [1, 5] {
            let n = random_name(retry);
            let (l, r) = split(&n);
            assert!(LEFT.contains(&l), "{n}");
            let (surname, digit) = r.split_at(r.len() - 1);
            assert!(RIGHT.contains(&surname), "{n}");
            assert!(digit.as_bytes()[0].is_ascii_digit(), "{n}");
        }
    }

    #[test]
    fn lists_are_dockers() {
        assert_eq!(LEFT[0], "admiring");
        assert_eq!(LEFT[107], "zen");
        assert_eq!(RIGHT[0], "agnesi");
        assert_eq!(RIGHT[235], "zhukovsky");
        assert!(LEFT.windows(2).all(|w| w[0] < w[1]));
        assert!(RIGHT.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_name_rule() {
        assert_eq!(validate_name("web-1").unwrap(), "web-1");
        assert_eq!(validate_name("/web.1_a").unwrap(), "web.1_a");
        assert_eq!(validate_name("0a").unwrap(), "0a");
        for bad in [
            "a", "/a", "", "/", "-web", "_web", ".web", "web 1", "web/1", "//web", "wéb",
        ] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(e.kind, Kind::InvalidParameter);
            assert_eq!(
                e.message,
                format!("Invalid container name ({bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            );
        }
    }
}
