//! Properties of reference parsing: it never panics, and the forms it prints parse back to the same
//! reference.

use berth_image::digest::Digest;
use berth_image::reference::{parse_any_reference, parse_normalized_named, Reference};
use proptest::prelude::*;

fn domain() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("localhost".to_owned())),
        Just(Some("docker.io".to_owned())),
        Just(Some("index.docker.io".to_owned())),
        Just(Some("Registry".to_owned())),
        "[a-z0-9]{1,5}(-[a-z0-9]{1,3})?(\\.[a-z0-9]{1,5}){1,2}(:[0-9]{1,5})?".prop_map(Some),
        "[a-z]{1,6}:[0-9]{1,5}".prop_map(Some),
        "\\[[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,5}\\](:[0-9]{1,5})?".prop_map(Some),
    ]
}

fn path() -> impl Strategy<Value = String> {
    let component = "[a-z0-9]{1,4}((\\.|_|__|-{1,3})[a-z0-9]{1,4}){0,2}";
    proptest::collection::vec(component, 1..4).prop_map(|c| c.join("/"))
}

fn tag() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}")
}

fn digest() -> impl Strategy<Value = Option<Digest>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16).prop_map(|b| Digest::sha256_of(&b)))
}

fn reference_string() -> impl Strategy<Value = String> {
    (domain(), path(), tag(), digest()).prop_map(|(domain, path, tag, digest)| {
        let mut s = match domain {
            Some(d) => format!("{d}/{path}"),
            None => path,
        };
        if let Some(t) = tag {
            s.push(':');
            s.push_str(&t);
        }
        if let Some(d) = digest {
            s.push('@');
            s.push_str(d.as_str());
        }
        s
    })
}

/// Docker Hub paths whose first component looks like a host familiarize to another registry's
/// name (see `familiar_form_quirk_kept` in reference_parse.rs): Docker behaves so, and so do we.
fn familiar_form_is_ambiguous(r: &Reference) -> bool {
    let familiar = r.familiar_name();
    let first = familiar.split('/').next().unwrap_or_default();
    r.is_docker_hub() && familiar.contains('/') && (first == "localhost" || first.contains(['.', ':']))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn familiar_string_round_trips(s in reference_string()) {
        let r = parse_normalized_named(&s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        let again = parse_normalized_named(&r.to_string()).unwrap();
        prop_assert_eq!(&again, &r);
        prop_assert_eq!(&Reference::parse(&r.to_string()).unwrap(), &r);
        prop_assume!(!familiar_form_is_ambiguous(&r));
        let familiar = parse_normalized_named(&r.familiar_string()).unwrap();
        prop_assert_eq!(&familiar, &r);
        prop_assert_eq!(r.familiar_name(), familiar.familiar_name());
    }

    #[test]
    fn never_panics_on_anything(s in "\\PC{0,300}") {
        let _ = Reference::parse(&s);
        let _ = parse_normalized_named(&s);
        let _ = parse_any_reference(&s);
        let _ = Reference::with_name(&s);
        let _ = Digest::parse(&s);
    }

    #[test]
    fn never_panics_near_the_grammar(s in "[a-zA-Z0-9:/@._\\-\\[\\]%]{0,80}") {
        if let Ok(r) = parse_normalized_named(&s) {
            prop_assert_eq!(parse_normalized_named(&r.to_string()).unwrap(), r.clone());
            let _ = r.familiar_string();
        }
        if let Ok(r) = Reference::parse(&s) {
            prop_assert_eq!(r.to_string(), s.clone());
        }
        let _ = parse_any_reference(&s);
    }
}
