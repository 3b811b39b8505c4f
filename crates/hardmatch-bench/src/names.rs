//! Realistic, unique people: display names (some non-ASCII, some CJK), and the ASCII
//! mail nickname and sAMAccountName an AD admin would derive from them.
//!
//! Names repeat in a large directory, so the second "Olivia Smith" becomes
//! `olivia.smith2`, exactly how admins number them. sAMAccountName is capped at 20
//! characters by AD, so its stem is cut to 13 characters before the number is added.
//! None of the lab's hand-written seed users (scripts/ad-lab.d/seed.ldif) can be produced,
//! so generated LDIF loads into a seeded lab without collisions.

use std::collections::HashMap;

/// `(display form, ASCII form used in addresses)`.
type Name = (&'static str, &'static str);

const GIVEN_NAMES: &[Name] = &[
    ("Olivia", "olivia"),
    ("Liam", "liam"),
    ("Emma", "emma"),
    ("Noah", "noah"),
    ("Ava", "ava"),
    ("Oliver", "oliver"),
    ("Sophia", "sophia"),
    ("Elijah", "elijah"),
    ("Isabella", "isabella"),
    ("James", "james"),
    ("Mia", "mia"),
    ("William", "william"),
    ("Charlotte", "charlotte"),
    ("Benjamin", "benjamin"),
    ("Amelia", "amelia"),
    ("Lucas", "lucas"),
    ("Harper", "harper"),
    ("Henry", "henry"),
    ("Evelyn", "evelyn"),
    ("Theodore", "theodore"),
    ("Abigail", "abigail"),
    ("Jack", "jack"),
    ("Emily", "emily"),
    ("Levi", "levi"),
    ("Ella", "ella"),
    ("Daniel", "daniel"),
    ("Scarlett", "scarlett"),
    ("Michael", "michael"),
    ("Grace", "grace"),
    ("Samuel", "samuel"),
    ("Owen", "owen"),
    ("Victoria", "victoria"),
    ("Sebastian", "sebastian"),
    ("Riley", "riley"),
    ("Mateo", "mateo"),
    ("Aria", "aria"),
    ("Jacob", "jacob"),
    ("Lily", "lily"),
    ("Logan", "logan"),
    ("Nora", "nora"),
    ("Ethan", "ethan"),
    ("Aiden", "aiden"),
    ("Hannah", "hannah"),
    ("Wyatt", "wyatt"),
    ("Penelope", "penelope"),
    ("Julian", "julian"),
    ("Stella", "stella"),
    ("Gabriel", "gabriel"),
    ("Hazel", "hazel"),
    ("Anthony", "anthony"),
    ("Violet", "violet"),
    ("Ruby", "ruby"),
    ("Ryan", "ryan"),
    ("Claire", "claire"),
    ("Renée", "renee"),
    ("Chloé", "chloe"),
    ("Sébastien", "sebastien"),
    ("François", "francois"),
    ("Jürgen", "juergen"),
    ("Björn", "bjoern"),
    ("Søren", "soeren"),
    ("Åsa", "asa"),
    ("Łukasz", "lukasz"),
    ("Małgorzata", "malgorzata"),
    ("Zoltán", "zoltan"),
    ("Mónica", "monica"),
    ("Iñigo", "inigo"),
    ("Núria", "nuria"),
    ("João", "joao"),
    ("Dorothée", "dorothee"),
    ("Ömer", "oemer"),
    ("Ágnes", "agnes"),
    ("Jiří", "jiri"),
    ("Tomáš", "tomas"),
];

const SURNAMES: &[Name] = &[
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Williams", "williams"),
    ("Brown", "brown"),
    ("Jones", "jones"),
    ("Garcia", "garcia"),
    ("Miller", "miller"),
    ("Davis", "davis"),
    ("Rodriguez", "rodriguez"),
    ("Martinez", "martinez"),
    ("Hernandez", "hernandez"),
    ("Lopez", "lopez"),
    ("Wilson", "wilson"),
    ("Anderson", "anderson"),
    ("Thomas", "thomas"),
    ("Taylor", "taylor"),
    ("Moore", "moore"),
    ("Jackson", "jackson"),
    ("Martin", "martin"),
    ("Thompson", "thompson"),
    ("White", "white"),
    ("Harris", "harris"),
    ("Sanchez", "sanchez"),
    ("Clark", "clark"),
    ("Ramirez", "ramirez"),
    ("Lewis", "lewis"),
    ("Robinson", "robinson"),
    ("Walker", "walker"),
    ("Young", "young"),
    ("Allen", "allen"),
    ("King", "king"),
    ("Wright", "wright"),
    ("Scott", "scott"),
    ("Torres", "torres"),
    ("Nguyen", "nguyen"),
    ("Hill", "hill"),
    ("Flores", "flores"),
    ("Green", "green"),
    ("Adams", "adams"),
    ("Nelson", "nelson"),
    ("Baker", "baker"),
    ("Hall", "hall"),
    ("Rivera", "rivera"),
    ("Campbell", "campbell"),
    ("Mitchell", "mitchell"),
    ("Carter", "carter"),
    ("Roberts", "roberts"),
    ("Phillips", "phillips"),
    ("Evans", "evans"),
    ("Turner", "turner"),
    ("Parker", "parker"),
    ("Collins", "collins"),
    ("Edwards", "edwards"),
    ("Stewart", "stewart"),
    ("Morris", "morris"),
    ("Murphy", "murphy"),
    ("Cook", "cook"),
    ("Rogers", "rogers"),
    ("Morgan", "morgan"),
    ("Cooper", "cooper"),
    ("Müller", "mueller"),
    ("Schröder", "schroeder"),
    ("Lefèvre", "lefevre"),
    ("Gonçalves", "goncalves"),
    ("Núñez", "nunez"),
    ("Wójcik", "wojcik"),
    ("Dvořák", "dvorak"),
    ("Østergaard", "oestergaard"),
    ("Åkesson", "akesson"),
    ("Fernández", "fernandez"),
    ("Özdemir", "oezdemir"),
    ("Šimić", "simic"),
    ("Jørgensen", "joergensen"),
    ("Koç", "koc"),
];

const CJK_GIVEN_NAMES: &[Name] = &[
    ("芳", "fang"),
    ("娜", "na"),
    ("静", "jing"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("洋", "yang"),
    ("敏", "min"),
    ("军", "jun"),
];

const CJK_SURNAMES: &[Name] = &[
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
];

/// One in this many people gets a Chinese name, written surname first without a space.
const CJK_ONE_IN: usize = 12;

/// AD's limit on sAMAccountName for users.
const SAM_ACCOUNT_NAME_LIMIT: usize = 20;
/// Room left for a number of up to seven digits.
const SAM_STEM_LIMIT: usize = SAM_ACCOUNT_NAME_LIMIT - 7;

/// A generated person, unique within one [`People`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub given_name: &'static str,
    pub surname: &'static str,
    pub display_name: String,
    /// The relative DN value; unique because it carries the same number as `nickname`.
    pub common_name: String,
    /// The mail nickname and UPN prefix, `olivia.smith` or `olivia.smith2`.
    pub nickname: String,
    pub sam_account_name: String,
}

/// Hands out unique people. Memory is bounded by the number of distinct name stems
/// (a few thousand), not by the number of people.
#[derive(Default)]
pub struct People {
    nickname_uses: HashMap<String, u32>,
    sam_uses: HashMap<String, u32>,
}

impl People {
    pub fn next(&mut self, random: &mut fastrand::Rng) -> Person {
        let chinese = random.usize(..CJK_ONE_IN) == 0;
        let (given, surname) = if chinese {
            (pick(random, CJK_GIVEN_NAMES), pick(random, CJK_SURNAMES))
        } else {
            (pick(random, GIVEN_NAMES), pick(random, SURNAMES))
        };
        let display_name = if chinese {
            format!("{}{}", surname.0, given.0)
        } else {
            format!("{} {}", given.0, surname.0)
        };
        let stem = format!("{}.{}", given.1, surname.1);
        let number = next_use(&mut self.nickname_uses, &stem);
        let (nickname, common_name) = match number {
            1 => (stem.clone(), display_name.clone()),
            _ => (
                format!("{stem}{number}"),
                format!("{display_name} {number}"),
            ),
        };
        // Stems are letters and one dot, numbers are digits: stem + number never equals
        // another stem + number, so the results are unique.
        let sam_stem: String = stem.chars().take(SAM_STEM_LIMIT).collect();
        let sam_number = next_use(&mut self.sam_uses, &sam_stem);
        let sam_account_name = match sam_number {
            1 => sam_stem,
            _ => format!("{sam_stem}{sam_number}"),
        };
        Person {
            given_name: given.0,
            surname: surname.0,
            display_name,
            common_name,
            nickname,
            sam_account_name,
        }
    }
}

fn pick(random: &mut fastrand::Rng, names: &'static [Name]) -> Name {
    names[random.usize(..names.len())]
}

fn next_use(uses: &mut HashMap<String, u32>, stem: &str) -> u32 {
    match uses.get_mut(stem) {
        Some(count) => {
            *count += 1;
            *count
        }
        None => {
            uses.insert(stem.to_owned(), 1);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn people_are_unique_and_sam_account_names_fit_ad() {
        let mut people = People::default();
        let mut random = fastrand::Rng::with_seed(1);
        let mut nicknames = HashSet::new();
        let mut sams = HashSet::new();
        let mut common_names = HashSet::new();
        for _ in 0..50_000 {
            let person = people.next(&mut random);
            assert!(person.sam_account_name.len() <= SAM_ACCOUNT_NAME_LIMIT);
            assert!(person.nickname.is_ascii());
            assert!(nicknames.insert(person.nickname));
            assert!(sams.insert(person.sam_account_name));
            assert!(common_names.insert(person.common_name.to_lowercase()));
        }
    }

    #[test]
    fn no_name_of_the_lab_seed_users_can_be_generated() {
        let seeded = [
            "adele", "alex", "megan", "nestor", "jose", "zoe", "debra", "lee", "isaiah", "grady",
            "lynne",
        ];
        for (_, ascii) in GIVEN_NAMES.iter().chain(CJK_GIVEN_NAMES) {
            assert!(!seeded.contains(ascii), "{ascii}");
        }
        let all_letters = |text: &str| text.bytes().all(|byte| byte.is_ascii_lowercase());
        for (_, ascii) in GIVEN_NAMES
            .iter()
            .chain(SURNAMES)
            .chain(CJK_GIVEN_NAMES)
            .chain(CJK_SURNAMES)
        {
            assert!(all_letters(ascii), "{ascii}");
        }
    }
}
