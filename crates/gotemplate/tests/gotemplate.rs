//! Behaviour of the template engine, checked against Go's `text/template`.
//!
//! Expected outputs marked "Go:" were produced by the Docker CLI 28.2.2
//! (built with Go 1.24) over the same JSON decoded into `interface{}`.

use berth_gotemplate::{docker_tabwriter, is_table, table_body, Error, TabWriter, Template};
use proptest::prelude::*;
use serde_json::{json, Value};

fn render(text: &str, data: &Value) -> String {
    let t = Template::parse(text).unwrap_or_else(|e| panic!("parse {text:?}: {e}"));
    t.execute(data)
        .unwrap_or_else(|e| panic!("execute {text:?}: {e}"))
}

fn r(text: &str) -> String {
    render(text, &data())
}

fn exec_err(text: &str, data: &Value) -> Error {
    let t = Template::parse(text).unwrap_or_else(|e| panic!("parse {text:?}: {e}"));
    match t.execute(data) {
        Ok(out) => panic!("{text:?} executed to {out:?}"),
        Err(e) => e,
    }
}

fn parse_err(text: &str) -> String {
    match Template::parse(text) {
        Ok(_) => panic!("{text:?} parsed"),
        Err(e) => e.to_string(),
    }
}

fn data() -> Value {
    json!({
        "s": "str", "n": 5, "neg": -3, "f": 1.5, "fbig": 1500000000.5, "tiny": 0.00001,
        "nul": null, "t": true, "e": "", "z": 0,
        "arr": [1, "a", null, {"k": true}],
        "obj": {"b": 2, "a": 1, "c": [1, 2]},
        "strs": ["x", "y", "z"],
        "html": "<a href='x'>&\"</a>",
        "uni": "héllo wörld",
        "Labels": {"a.b": "v1", "com.x": "v2"}
    })
}

fn container() -> Value {
    json!({
        "ID": "4a3b2c1d0e9f",
        "Name": "/web",
        "State": {"Status": "running", "Running": true, "Pid": 4242, "ExitCode": 0},
        "Config": {
            "Labels": {"a.b": "v1", "com.docker.compose.project": "proj"},
            "Env": ["A=1", "B=2"]
        },
        "HostConfig": {"Binds": null, "Memory": 0, "NetworkMode": "bridge"},
        "RepoTags": ["alpine:3.19", "alpine:latest"],
        "Args": ["-c", "echo hi"],
        "NetworkSettings": {
            "Networks": {"bridge": {"IPAddress": "172.17.0.2"}},
            "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
        }
    })
}

// ---------------------------------------------------------------- Docker formats

#[test]
fn docker_formats() {
    let c = container();
    assert_eq!(render("{{.ID}}", &c), "4a3b2c1d0e9f");
    assert_eq!(render("{{.State.Pid}}", &c), "4242");
    assert_eq!(
        render("{{json .HostConfig}}", &c),
        r#"{"Binds":null,"Memory":0,"NetworkMode":"bridge"}"#
    );
    assert_eq!(
        render("{{range .RepoTags}}{{.}} {{end}}", &c),
        "alpine:3.19 alpine:latest "
    );
    assert_eq!(render(r#"{{index .Config.Labels "a.b"}}"#, &c), "v1");
    assert_eq!(
        render("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", &c),
        "a.b=v1;com.docker.compose.project=proj;"
    );
    assert_eq!(
        render(r#"{{if eq .State.Status "running"}}up{{else}}down{{end}}"#, &c),
        "up"
    );
    assert_eq!(render(r#"{{printf "%-10s|" .Name}}"#, &c), "/web      |");
    assert_eq!(render(r#"{{join .Args ","}}"#, &c), "-c,echo hi");
    assert_eq!(
        render("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", &c),
        "172.17.0.2"
    );
    assert_eq!(
        render(
            "{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}",
            &c
        ),
        "80/tcp -> 8080"
    );
    assert_eq!(render("{{.Config.Env}}", &c), "[A=1 B=2]");
    assert_eq!(
        render("{{.State}}", &c),
        "map[ExitCode:0 Pid:4242 Running:true Status:running]"
    );
    assert_eq!(render("{{.State.Running}} {{.State.ExitCode}}", &c), "true 0");
    assert_eq!(
        render(r#"{{.Name | printf "%.3s"}}|{{upper .State.Status}}"#, &c),
        "/we|RUNNING"
    );
}

#[test]
fn json_keeps_data_order() {
    let c = container();
    let out = render("{{json .}}", &c);
    assert!(
        out.starts_with(r#"{"ID":"4a3b2c1d0e9f","Name":"/web","State":{"Status""#),
        "{out}"
    );
    let back: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(back, c);
}

#[test]
fn table_helpers() {
    assert!(is_table("table {{.ID}}"));
    assert!(is_table("table"));
    assert!(!is_table("{{.ID}} table"));
    assert_eq!(
        table_body(r"table {{.Repository}}\t{{.Tag}}"),
        "{{.Repository}}\t{{.Tag}}"
    );
    assert_eq!(table_body("table   {{.A}}  "), "{{.A}}");
    assert_eq!(table_body(r"{{.A}}\n{{.B}}"), "{{.A}}\n{{.B}}");
    assert_eq!(table_body(r"{{.A}}\\t"), "{{.A}}\\\t");
    assert_eq!(table_body("table"), "");
}

// ---------------------------------------------------------------- printing values

#[test]
fn print_values() {
    // Go: str|5|-3|1.5|1.5000000005e+09|1e-05|<no value>|true||0|<no value>
    assert_eq!(
        r("{{.s}}|{{.n}}|{{.neg}}|{{.f}}|{{.fbig}}|{{.tiny}}|{{.nul}}|{{.t}}|{{.e}}|{{.z}}|{{.missing}}"),
        "str|5|-3|1.5|1.5000000005e+09|1e-05|<no value>|true||0|<no value>"
    );
    // Go: [1 a <nil> map[k:true]]|map[a:1 b:2 c:[1 2]]|[x y z]
    assert_eq!(
        r("{{.arr}}|{{.obj}}|{{.strs}}"),
        "[1 a <nil> map[k:true]]|map[a:1 b:2 c:[1 2]]|[x y z]"
    );
    assert_eq!(
        render("{{.}}", &json!({"b": 1, "a": [true, null]})),
        "map[a:[true <nil>] b:1]"
    );
    assert_eq!(render("{{.}}", &Value::Null), "<no value>");
    // Integers stay integers however large; floats print as Go's %v.
    assert_eq!(render("{{.}}", &json!(1500000000)), "1500000000");
    assert_eq!(render("{{.}}", &json!(u64::MAX)), "18446744073709551615");
    assert_eq!(render("{{.}}", &json!(1.0)), "1");
    assert_eq!(render("{{.}}", &json!(1e6)), "1e+06");
    assert_eq!(render("{{.}}", &json!(123456.0)), "123456");
}

#[test]
fn missing_keys() {
    assert_eq!(
        r("{{.missing}}|{{.missing.deeper}}|{{.obj.missing}}"),
        "<no value>|<no value>|<no value>"
    );
    assert_eq!(r(r#"{{index .obj "zz"}}"#), "<no value>");
    let t = Template::parse("{{.missing}}").unwrap().missing_key_error(true);
    let e = t.execute(&data()).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"template: :1:2: executing "" at <.missing>: map has no entry for key "missing""#
    );
}

#[test]
fn literals() {
    // Go: 31|31|15|1000000|10|39|"
    assert_eq!(
        r(r#"{{0x1F}}|{{0X1f}}|{{017}}|{{1_000_000}}|{{'\n'}}|{{'\''}}|{{"\""}}"#),
        "31|31|15|1000000|10|39|\""
    );
    // Go: 97|1|16|1000|-5|3|15|5|1000|0.5|	Aé A|raw\n|true|float64|int32
    assert_eq!(
        r(
            r#"{{'a'}}|{{1.0}}|{{0x10}}|{{1e3}}|{{-5}}|{{+3}}|{{0o17}}|{{0b101}}|{{1_000}}|{{.5}}|{{"\t\x41\u00e9\101"}}|{{`raw\n`}}|{{true}}|{{printf "%T" 1.0}}"#
        ),
        "97|1|16|1000|-5|3|15|5|1000|0.5|\tAéA|raw\\n|true|float64"
    );
    assert_eq!(
        r("{{9223372036854775807}}|{{-9223372036854775808}}"),
        "9223372036854775807|-9223372036854775808"
    );
    assert_eq!(r("{{print nil}}|{{false}}"), "<nil>|false");
    // Go: 1.5|-0|1e+06|100000|123456|1.234567e+06|0.1|1e-05|0.0002
    assert_eq!(
        r("{{1.5 | printf \"%v\"}}|{{-0.0}}|{{1e6}}|{{100000}}|{{123456.0}}|{{1234567.0}}|{{0.1}}|{{1e-5}}|{{2e-4}}"),
        "1.5|-0|1e+06|100000|123456|1.234567e+06|0.1|1e-05|0.0002"
    );
}

// ---------------------------------------------------------------- actions

#[test]
fn trim_markers_and_comments() {
    assert_eq!(r("a  {{- 3 -}}  b"), "a3b");
    assert_eq!(r("a \n\t{{- 3}} b"), "a3 b");
    assert_eq!(r("a {{3 -}} \n b"), "a 3b");
    // Go: trim|x   y
    assert_eq!(
        r(r#"{{- " trim " -}}   |   {{- /* comment */ -}}   x  {{/* c2 */}} y"#),
        " trim |x   y"
    );
    assert_eq!(r("{{-3}}"), "-3");
    assert_eq!(r("a{{/* multi\nline */}}b"), "ab");
    assert_eq!(r("{{ .s }}|{{.s}}{{/* c */}}|{{- /* c */ -}} |"), "str|str||");
    assert_eq!(r("x\n{{- /* c */}}"), "x");
}

#[test]
fn conditionals() {
    assert_eq!(r("{{if .t}}yes{{else}}no{{end}}"), "yes");
    assert_eq!(r("{{if .e}}yes{{else if .z}}z{{else}}none{{end}}"), "none");
    assert_eq!(r("{{if 0}}{{else if 0}}{{else if 1}}three{{end}}"), "three");
    assert_eq!(r("{{with .obj}}{{.a}}{{end}}"), "1");
    assert_eq!(r("{{with .missing}}x{{else}}nomiss{{end}}"), "nomiss");
    assert_eq!(r("{{with .e}}x{{else with .s}}{{.}}{{end}}"), "str");
    assert_eq!(r("{{with 0}}{{else with 0}}x{{else}}y{{end}}"), "y");
    // Truthiness: empty values are false.
    for falsy in [
        "0",
        "0.0",
        "\"\"",
        "false",
        ".nul",
        ".missing",
        ".e",
        "(slice .strs 0 0)",
    ] {
        assert_eq!(
            r(&format!("{{{{if {falsy}}}}}T{{{{else}}}}F{{{{end}}}}")),
            "F",
            "{falsy}"
        );
    }
    let empty = json!({"a": [], "o": {}});
    assert_eq!(
        render("{{if .a}}T{{else}}F{{end}}{{if .o}}T{{else}}F{{end}}", &empty),
        "FF"
    );
    for truthy in ["1", "-1", "0.5", "\"0\"", "true", ".arr", ".obj"] {
        assert_eq!(
            r(&format!("{{{{if {truthy}}}}}T{{{{else}}}}F{{{{end}}}}")),
            "T",
            "{truthy}"
        );
    }
}

#[test]
fn ranges() {
    assert_eq!(r("{{range .strs}}{{.}} {{end}}"), "x y z ");
    assert_eq!(
        r("{{range $i, $v := .strs}}{{$i}}:{{$v}} {{end}}"),
        "0:x 1:y 2:z "
    );
    assert_eq!(r("{{range $v := .strs}}{{$v}}{{end}}"), "xyz");
    // Objects in sorted key order.
    assert_eq!(
        r("{{range $k, $v := .obj}}{{$k}}={{$v}};{{end}}"),
        "a=1;b=2;c=[1 2];"
    );
    assert_eq!(r("{{range (slice .strs 0 0)}}x{{else}}empty{{end}}"), "empty");
    assert_eq!(
        r("{{range .nul}}x{{else}}nul{{end}}|{{range .missing}}x{{else}}miss{{end}}"),
        "nul|miss"
    );
    // Go: [1][a][<no value>][map[k:true]]
    assert_eq!(
        r("{{range .arr}}[{{.}}]{{end}}"),
        "[1][a][<no value>][map[k:true]]"
    );
    assert_eq!(
        r("{{range 3}}{{.}}{{end}}|{{range 0}}x{{else}}no{{end}}"),
        "012|no"
    );
    assert_eq!(
        r(
            r#"{{range .strs}}{{if eq . "y"}}{{continue}}{{end}}{{.}}{{end}}|{{range .strs}}{{if eq . "y"}}{{break}}{{end}}{{.}}{{end}}"#
        ),
        "xz|x"
    );
    // Nested ranges, with $ reaching the root.
    assert_eq!(
        r("{{range .strs}}{{range $.strs}}{{.}}{{end}},{{end}}"),
        "xyz,xyz,xyz,"
    );
    // Assigning range variables.
    assert_eq!(
        r("{{$i := 0}}{{$v := 0}}{{range $i, $v = .strs}}{{end}}{{$i}}{{$v}}"),
        "2z"
    );
}

#[test]
fn variables() {
    assert_eq!(r("{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}"), "12");
    assert_eq!(r("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}"), "21");
    assert_eq!(r("{{$y := 1}}{{if true}}{{$y = 2}}{{end}}{{$y}}"), "2");
    assert_eq!(r("{{with $x := .s}}{{$x}}{{.}}{{end}}"), "strstr");
    assert_eq!(r("{{$}}").len(), r("{{.}}").len());
    assert_eq!(r("{{$.s}}|{{$.obj.a}}|{{$o := .obj}}{{$o.b}}"), "str|1|2");
    assert_eq!(r("{{$x := 1}}{{$x := 2}}{{$x}}"), "2");
}

#[test]
fn pipelines_and_parens() {
    assert_eq!(
        r(r#"{{"abc" | len}}|{{.s | printf "%s-%s" "p"}}|{{3 | printf "%d%d" 1}}"#),
        "3|p-str|13"
    );
    assert_eq!(
        r(r#"{{(.s)}}|{{(index .obj "c")}}|{{(.obj).a}}|{{.obj.c}}"#),
        "str|[1 2]|1|[1 2]"
    );
    assert_eq!(r(r#"{{print (print "a" | printf "%s!") "b"}}"#), "a!b");
    assert_eq!(r(r#"{{"x"|len|printf "%d"}}"#), "1");
    assert_eq!(r(r#"{{"a" |}}"#), "a");
    assert_eq!(
        r(r#"{{"a" | not}}|{{"" | not}}|{{1 | and 0}}|{{0 | or 1}}|{{1 | or 0}}|{{0 | and 1}}"#),
        "false|true|0|1|1|0"
    );
}

#[test]
fn templates() {
    assert_eq!(
        r(r#"{{define "a"}}A{{.}}{{end}}{{template "a" .s}}|{{template "a"}}"#),
        "Astr|A<no value>"
    );
    assert_eq!(r(r#"{{block "b" .n}}B{{.}}{{end}}"#), "B5");
    assert_eq!(
        r(r#"{{define "r"}}{{if .}}{{.}}{{template "r" slice . 1}}{{end}}{{end}}{{template "r" "abc"}}"#),
        "abcbcc"
    );
    // $ inside a template is its dot.
    assert_eq!(r(r#"{{define "d"}}{{$}}{{end}}{{template "d" 7}}"#), "7");
    // An empty redefinition does not replace a body.
    assert_eq!(
        r(r#"{{define "x"}}X{{end}}{{define "x"}}{{end}}{{template "x"}}"#),
        "X"
    );
    assert!(parse_err(r#"{{define "x"}}X{{end}}{{define "x"}}Y{{end}}"#)
        .contains(r#"multiple definition of template "x""#));
    let e = exec_err(
        r#"{{define "inf"}}{{template "inf"}}{{end}}{{template "inf"}}"#,
        &data(),
    );
    assert!(e.to_string().contains("exceeded maximum template depth"), "{e}");
    let e = exec_err(r#"{{template "nope"}}"#, &data());
    assert_eq!(
        e.to_string(),
        r#"template: :1:2: executing "" at <{{template "nope"}}>: template "nope" not defined"#
    );
}

// ---------------------------------------------------------------- functions

#[test]
fn printf_verbs() {
    // Go: str|str|"str"|737472|  str|str  |st
    assert_eq!(
        r(r#"{{printf "%s|%v|%q|%x|%5s|%-5s|%.2s" .s .s .s .s .s .s .s}}"#),
        "str|str|\"str\"|737472|  str|str  |st"
    );
    // Go: 1.500000|1.50|1.500000e+00|1.5|1.5|   1.500|1.50    |0001.500|+1.5e+00
    assert_eq!(
        r(r#"{{printf "%f|%.2f|%e|%g|%v|%8.3f|%-8.2f|%08.3f|%+.1e" .f .f .f .f .f .f .f .f .f}}"#),
        "1.500000|1.50|1.500000e+00|1.5|1.5|   1.500|1.50    |0001.500|+1.5e+00"
    );
    assert_eq!(
        r(r#"{{printf "%d|%5d|%-5d|%05d|%+d|%x|%X|%o|%b|%c|%U" 42 42 42 -42 5 255 255 8 5 65 65}}"#),
        "42|   42|42   |-0042|+5|ff|FF|10|101|A|U+0041"
    );
    assert_eq!(
        r(r#"{{printf "%t %v" true false}}|{{printf "100%%"}}|{{printf "%5.1f%%" 12.345}}"#),
        "true false|100%| 12.3%"
    );
    // Go: %!d(string=str)|%!t(string=str)|<nil>
    assert_eq!(
        r(r#"{{printf "%d|%t|%v" .s .s .nul}}"#),
        "%!d(string=str)|%!t(string=str)|<nil>"
    );
    // Go: %!d(int=1) %!d(MISSING)|1%!(EXTRA int=2, string=x)|%!z(int=3)
    assert_eq!(
        r(r#"{{printf "%d %d" 1}}|{{printf "%d" 1 2 "x"}}|{{printf "%z" 3}}"#),
        "1 %!d(MISSING)|1%!(EXTRA int=2, string=x)|%!z(int=3)"
    );
    assert_eq!(
        r(r#"{{printf "%v %v" .arr .obj}}|{{printf "%q" .strs}}"#),
        "[1 a <nil> map[k:true]] map[a:1 b:2 c:[1 2]]|[\"x\" \"y\" \"z\"]"
    );
    // Go: [%!d(string=a) <nil> map[%!d(string=k):%!d(bool=true)]]
    assert_eq!(
        r(r#"{{printf "%d" (slice .arr 1)}}"#),
        "[%!d(string=a) <nil> map[%!d(string=k):%!d(bool=true)]]"
    );
    assert_eq!(
        r(r#"{{printf "%T %T %T %T %T" .s .f .arr .obj .nul}}"#),
        "string float64 []interface {} map[string]interface {} <nil>"
    );
    // Go: 100000 1e+06 0.0001 1e-05 1e+21 1.23456789e+08 1e-07
    assert_eq!(
        r(r#"{{printf "%g %g %g %g %v %v %v" 100000.0 1000000.0 0.0001 0.00001 1e21 123456789.0 1e-7}}"#),
        "100000 1e+06 0.0001 1e-05 1e+21 1.23456789e+08 1e-07"
    );
    // Go: 3.14|3.14159|2.5|0.000000e+00|2|2e+01
    assert_eq!(
        r(r#"{{printf "%.3g|%.10g|%g|%e|%.0f|%.0e" 3.14159 3.14159 2.5 0.0 2.5 15.0}}"#),
        "3.14|3.14159|2.5|0.000000e+00|2|2e+01"
    );
    // Go: 2.67 0.2 0 1.000|1e+100|1.234568e+05|1E-10 1.000000E-10
    assert_eq!(
        r(
            r#"{{printf "%.2f %.1f %.0f %.3f" 2.675 0.25 0.5 1.0005}}|{{printf "%g" 1e100}}|{{printf "%e" 123456.789}}|{{printf "%G %E" 1e-10 1e-10}}"#
        ),
        "2.67 0.2 0 1.000|1e+100|1.234568e+05|1E-10 1.000000E-10"
    );
    // Go: 2 1|    1|2   |3.14
    assert_eq!(
        r(r#"{{printf "%[2]d %[1]d" 1 2}}|{{printf "%*d|%-*d|%.*f" 5 1 4 2 2 3.14159}}"#),
        "2 1|    1|2   |3.14"
    );
    // Go: 😀|'😀'|U+1F600|U+1F600 '😀'|"\x01\u00a0\u2028✓"|"\u00e9\u2713"|`ab`
    assert_eq!(
        r(
            r#"{{printf "%c|%q|%U|%#U" 0x1F600 0x1F600 0x1F600 0x1F600}}|{{printf "%q" "\x01\u00a0\u2028✓"}}|{{printf "%+q" "é✓"}}|{{printf "%#q" "ab"}}"#
        ),
        "😀|'😀'|U+1F600|U+1F600 '😀'|\"\\x01\\u00a0\\u2028✓\"|\"\\u00e9\\u2713\"|`ab`"
    );
    // Go: hél|ab|    x|xy   |
    assert_eq!(
        r(r#"{{printf "%.3s|%.10s|%5.1s|%-5.2s|" "héllo" "ab" "xyz" "xyz"}}"#),
        "hél|ab|    x|xy   |"
    );
    // Go: -003.142|5       |+0000005|FF|010|0o10
    assert_eq!(
        r(r#"{{printf "%08.3f|%-08d|%+08d|%X|%#o|%O" -3.14159 5 5 255 8 8}}"#),
        "-003.142|5       |+0000005|FF|010|0o10"
    );
    assert_eq!(
        r(r#"{{printf "%x|% x|%#x|%x" "hi" "hi" 255 -255}}"#),
        "6869|68 69|0xff|-ff"
    );
    assert_eq!(r(r#"{{printf "%05s|%.0d|%.3d" "ab" 0 7}}"#), "000ab||007");
    // Integers from the data take float verbs and integral floats take %d.
    assert_eq!(r(r#"{{printf "%.2f|%d" .n 3.0}}"#), "5.00|3");
    assert_eq!(
        r(r#"{{printf "%!"}}|{{printf "%"}}|{{printf "%-"}}"#),
        "%!!(MISSING)|%!(NOVERB)|%!(NOVERB)"
    );
}

#[test]
fn print_functions() {
    // Go: <nil>|<nil>|str5 1.5x1 2|str 5\n|
    assert_eq!(
        r(r#"{{print .nul}}|{{print .missing}}|{{print .s .n .f "x" 1 2}}|{{println .s .n}}|{{print}}"#),
        "<nil>|<nil>|str5 1.5x1 2|str 5\n|"
    );
    assert_eq!(
        r(r#"{{println}}|{{println 1 "a" .nul}}|{{print "a" "b" 1 2 .nul "c"}}"#),
        "\n|1 a <nil>\n|ab1 2 <nil>c"
    );
}

#[test]
fn comparisons() {
    assert_eq!(
        r(r#"{{eq .s "str"}}|{{eq .n 5}}|{{eq .f 1.5}}|{{eq .s "a" "b" "str"}}|{{ne .n 4}}|{{eq .t true}}"#),
        "true|true|true|true|true|true"
    );
    // A nil equals only nil, without error.
    assert_eq!(
        r(r#"{{eq .nul nil}}|{{eq .missing .nul}}|{{eq .missing "x"}}|{{eq "x" .nul}}"#),
        "true|true|false|false"
    );
    assert_eq!(
        r(r#"{{lt 1 2}}|{{le 2 2}}|{{gt "b" "a"}}|{{ge 2.5 1.5}}|{{lt "a" "b"}}|{{lt .n 10}}|{{lt .f 2}}"#),
        "true|true|true|true|true|true|true"
    );
    assert_eq!(r(r#"{{eq 5 5.0}}|{{lt 1 1.5}}"#), "true|true");
    let msg = |t: &str| exec_err(t, &data()).to_string();
    assert_eq!(
        msg(r#"{{eq 1 "a"}}"#),
        r#"template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison"#
    );
    assert_eq!(
        msg("{{lt true false}}"),
        r#"template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison"#
    );
    assert_eq!(
        msg("{{eq 1}}"),
        r#"template: :1:2: executing "" at <eq 1>: error calling eq: missing argument for comparison"#
    );
    assert!(msg("{{ne 1 2 3}}").ends_with("wrong number of args for ne: want 2 got 3"));
    assert!(msg("{{eq .arr .arr}}").contains("non-comparable type"));
    assert!(msg("{{lt .nul 1}}").ends_with("invalid type for comparison"));
}

#[test]
fn logic() {
    // Go: 0|2||x|true|false|<no value>|<no value>
    assert_eq!(
        r(
            r#"{{and 1 0}}|{{and 1 2}}|{{or 0 ""}}|{{or 0 "x"}}|{{not 0}}|{{not .s}}|{{and .missing 1}}|{{or .nul}}"#
        ),
        "0|2||x|true|false|<no value>|<no value>"
    );
    // and/or stop evaluating at the deciding argument.
    assert_eq!(r(r#"{{or 1 (index .nul 1)}}|{{and 0 (index .nul 1)}}"#), "1|0");
    assert!(exec_err("{{and}}", &data())
        .to_string()
        .ends_with("wrong number of args for and: want at least 1 got 0"));
}

#[test]
fn len_index_slice() {
    assert_eq!(
        r("{{len .s}}|{{len .arr}}|{{len .obj}}|{{len .uni}}|{{len .e}}"),
        "3|4|3|13|0"
    );
    // Go: a|2|<no value>|v1|115|true|2
    assert_eq!(
        r(
            r#"{{index .arr 1}}|{{index .obj "b"}}|{{index .obj "zz"}}|{{index .Labels "a.b"}}|{{index .s 0}}|{{index .arr 3 "k"}}|{{index .obj "c" 1}}"#
        ),
        "a|2|<no value>|v1|115|true|2"
    );
    assert_eq!(r("{{index .arr}}"), "[1 a <nil> map[k:true]]");
    // Go: tr|tr|[a <nil>]|[x y]|str
    assert_eq!(
        r(r#"{{slice .s 1 3}}|{{slice .s 1}}|{{slice .arr 1 3}}|{{slice .strs 0 2 3}}|{{slice .s}}"#),
        "tr|tr|[a <nil>]|[x y]|str"
    );
    let msg = |t: &str| exec_err(t, &data()).to_string();
    assert!(msg("{{len 3}}").ends_with("error calling len: len of type int"));
    assert!(msg("{{len .nul}}").ends_with("error calling len: len of nil pointer"));
    assert!(msg(r#"{{index "abc" 5}}"#).ends_with("error calling index: index out of range: 5"));
    assert!(msg(r#"{{index "abc" -1}}"#).ends_with("error calling index: index out of range: -1"));
    assert!(msg(r#"{{index .arr 4}}"#).ends_with("error calling index: index out of range: 4"));
    assert!(msg(r#"{{index "abc" "x"}}"#).ends_with("cannot index slice/array with type string"));
    assert!(msg(r#"{{index .obj 1}}"#).ends_with("value has type int; should be string"));
    assert!(msg("{{index nil 1}}").ends_with("error calling index: index of untyped nil"));
    assert!(msg("{{index 1 1}}").ends_with("can't index item of type int"));
    assert!(msg(r#"{{slice "abcdef" 2 1}}"#).ends_with("error calling slice: invalid slice index: 2 > 1"));
    assert!(msg(r#"{{slice "abc" 1 2 3}}"#).ends_with("cannot 3-index slice a string"));
    assert!(msg(r#"{{slice "abc" 4}}"#).ends_with("index out of range: 4"));
    assert!(msg(r#"{{slice "abc" 1 2 3 4}}"#).ends_with("too many slice indexes: 4"));
    assert!(msg("{{slice 1}}").ends_with("can't slice item of type int"));
}

#[test]
fn escapers() {
    assert_eq!(
        r(r#"{{html .html}}|{{js .html}}|{{urlquery .html}}|{{html .missing}}|{{urlquery "a b" "c"}}"#),
        r#"&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;|\u003Ca href\u003D\'x\'\u003E\u0026\"\u003C/a\u003E|%3Ca+href%3D%27x%27%3E%26%22%3C%2Fa%3E|&lt;no value&gt;|a+bc"#
    );
    // Go: a\u000Ab\u2028é|1 2
    assert_eq!(r(r#"{{js "a\nb\u2028é"}}|{{html 1 2}}"#), r"a\u000Ab\u2028é|1 2");
    assert_eq!(r(r#"{{js "=\\"}}|{{html "\x00"}}"#), "\\u003D\\\\|\u{FFFD}");
}

#[test]
fn docker_functions() {
    // Go: "\u2028\b\f\u0001<>&"|1e+21|1e-7|1|100|-0|123456789012345678
    assert_eq!(
        r(
            r#"{{json "\u2028\b\f\x01<>&"}}|{{json 1e21}}|{{json 1e-7}}|{{json 1.0}}|{{json 100.0}}|{{json -0.0}}|{{json 123456789012345678}}"#
        ),
        r#""\u2028\b\f\u0001<>&"|1e+21|1e-7|1|100|-0|123456789012345678"#
    );
    assert_eq!(
        r("{{json .nul}}|{{json .missing}}|{{json .tiny}}|{{json .fbig}}|{{json .s}}"),
        r#"null|null|0.00001|1500000000.5|"str""#
    );
    assert_eq!(r(r#"{{json .html}}"#), r#""<a href='x'>&\"</a>""#);
    // Go: [a b c]|[a b c]|Hello WORLD Foo-Bar X_y|abc|HÉLLO WÖRLD
    assert_eq!(
        r(
            r#"{{split "a,b,c" ","}}|{{split "abc" ""}}|{{title "hello wORLD foo-bar x_y"}}|{{lower "ABC"}}|{{upper .uni}}"#
        ),
        "[a b c]|[a b c]|Hello WORLD Foo-Bar X_y|abc|HÉLLO WÖRLD"
    );
    // Go: Élan Vital|O'Neil Is_here|STRAßE|àb
    assert_eq!(
        r(r#"{{title "élan vital"}}|{{title "o'neil is_here"}}|{{upper "straße"}}|{{lower "ÀB"}}"#),
        "Élan Vital|O'Neil Is_here|STRAßE|àb"
    );
    // Go: []|[a  b]|3
    assert_eq!(
        r(r#"{{split "" ","}}|{{split "a,,b" ","}}|{{len (split "a b c" " ")}}"#),
        "[]|[a  b]|3"
    );
    assert_eq!(
        r(r#"{{join .strs ", "}}|{{join .nul "-"}}|{{join (split "a:b" ":") "/"}}"#),
        "x, y, z||a/b"
    );
    // Go:   x   ||abc|ab|abc|h\xc3
    assert_eq!(
        r(
            r#"{{pad "x" 2 3}}|{{pad "" 2 3}}|{{truncate "abcdef" 3}}|{{truncate "ab" 3}}|{{truncate "abc" 3}}"#
        ),
        "  x   ||abc|ab|abc"
    );
    assert_eq!(r(r#"{{truncate "héllo" 2}}|{{truncate "abc" 0}}"#), "h\u{FFFD}|");
    assert_eq!(r(r#"{{.s | upper | printf "%s!"}}"#), "STR!");
    let msg = |t: &str| exec_err(t, &data()).to_string();
    assert!(msg("{{upper 1}}").ends_with("wrong type for value; expected string; got int"));
    assert!(msg("{{upper nil}}").ends_with("invalid value; expected string"));
    assert!(msg(r#"{{pad "ab" 1.5 0}}"#).ends_with("expected int; got float64"));
    assert!(msg("{{json}}").ends_with("wrong number of args for json: want 1 got 0"));
    assert!(msg("{{join .s \",\"}}").ends_with("expected []string; got string"));
    assert!(msg("{{call 1}}").ends_with("error calling call: non-function 1 of type int"));
}

// ---------------------------------------------------------------- errors

#[test]
fn exec_errors_name_position_and_node() {
    let d = data();
    let e = exec_err("ab\ncd {{.s.x}}", &d);
    match &e {
        Error::Exec {
            name,
            line,
            col,
            context,
            message,
        } => {
            assert_eq!((name.as_str(), *line, *col), ("", 2, 5));
            assert_eq!(context, ".s.x");
            assert_eq!(message, "can't evaluate field x in type string");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e.to_string(),
        r#"template: :2:5: executing "" at <.s.x>: can't evaluate field x in type string"#
    );
    let msg = |t: &str| exec_err(t, &d).to_string();
    assert_eq!(
        msg("{{.nul.x}}"),
        r#"template: :1:2: executing "" at <.nul.x>: nil pointer evaluating interface {}.x"#
    );
    assert_eq!(
        msg("{{nil}}"),
        r#"template: :1:2: executing "" at <nil>: nil is not a command"#
    );
    assert_eq!(
        msg("{{1 2}}"),
        r#"template: :1:2: executing "" at <1 2>: can't give argument to non-function 1"#
    );
    assert_eq!(
        msg("{{.obj 1}}"),
        r#"template: :1:2: executing "" at <.obj>: obj is not a method but has arguments"#
    );
    assert_eq!(
        msg("{{range true}}{{end}}"),
        r#"template: :1:8: executing "" at <true>: range can't iterate over true"#
    );
    assert!(msg(r#"{{range $i, $x := 3}}{{end}}"#)
        .ends_with("can't use 3 to iterate over more than one variable"));
    assert_eq!(
        msg(r#"{{(print "x").Foo}}"#),
        r#"template: :1:2: executing "" at <(print "x").Foo>: can't evaluate field Foo in type string"#
    );
    assert!(msg("{{len.s}}").ends_with("wrong number of args for len: want 1 got 0"));
    // Errors inside a defined template name it.
    assert_eq!(
        msg(r#"{{block "x" .}}{{.s.y}}{{end}}"#),
        r#"template: :1:17: executing "x" at <.s.y>: can't evaluate field y in type string"#
    );
}

#[test]
fn parse_errors() {
    let cases = [
        ("{{$x}}", r#"template: :1:2: undefined variable "$x""#),
        ("{{$x = 1}}", r#"template: :1:2: undefined variable "$x""#),
        ("{{foo}}", r#"template: :1:2: function "foo" not defined"#),
        ("{{if}}{{end}}", "template: :1:4: missing value for if"),
        ("x\n{{end}}", "template: :2:0: unexpected {{end}}"),
        ("{{else}}", "template: :1:0: unexpected {{else}}"),
        ("{{if 1}}x", "template: :1:9: unexpected EOF"),
        (
            "{{range .}}{{else}}{{break}}{{end}}",
            "template: :1:21: {{break}} outside {{range}}",
        ),
        ("{{continue}}", "template: :1:2: {{continue}} outside {{range}}"),
        (
            r#"{{"a" | "b"}}"#,
            "template: :1:8: non executable command in pipeline stage 2",
        ),
        (
            r#"{{"unterminated}}"#,
            "template: :1:2: unterminated quoted string",
        ),
        ("{{'ab'}}", "template: :1:2: malformed character constant: 'ab'"),
        ("{{3x}}", r#"template: :1:2: bad number syntax: "3x""#),
        ("{{.Foo.}}", "template: :1:6: unexpected <.> in operand"),
        ("{{(1}}", "template: :1:4: unclosed left paren"),
        ("{{1)}}", "template: :1:3: unexpected right paren"),
        ("{{/* unclosed }}", "template: :1:0: unclosed comment"),
        (
            "{{/* a */ x}}",
            "template: :1:0: comment ends before closing delimiter",
        ),
        (
            "{{template foo}}",
            r#"template: :1:11: unexpected "foo" in template clause"#,
        ),
        (
            "{{with $x := 1}}{{end}}{{$x}}",
            r#"template: :1:25: undefined variable "$x""#,
        ),
        (
            "{{range $i, $j, $k := .}}{{end}}",
            "template: :1:14: too many declarations in range",
        ),
        (
            "{{if $a, $b := 1}}{{end}}",
            "template: :1:7: too many declarations in if",
        ),
        (r#"{{"\q"}}"#, r#"template: :1:2: invalid syntax: "\q""#),
        (
            "{{18446744073709551616}}",
            r#"template: :1:2: illegal number syntax: "18446744073709551616""#,
        ),
        ("{{nil.Foo}}", r#"template: :1:2: unexpected . after term "nil""#),
        ("{{.x", "template: :1:0: unclosed action"),
        ("{{.x | | .y}}", r#"template: :1:7: unexpected "|" in command"#),
        (
            "{{define \"a\"}}{{define \"b\"}}{{end}}{{end}}",
            "template: :1:16: unexpected <define> in command",
        ),
        (
            "{{if 1}}{{else}}{{else}}{{end}}",
            "template: :1:16: expected end; found {{else}}",
        ),
        (
            "{{€}}",
            "template: :1:2: unrecognized character in action: U+20AC '€'",
        ),
        ("{{.a#}}", "template: :1:4: bad character U+0023 '#'"),
    ];
    for (text, want) in cases {
        assert_eq!(parse_err(text), want, "{text}");
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
    assert!(parse_err(&format!("{{{{{deep}}}}}")).contains("max nesting depth"));
    let deep = format!("{}x{}", "{{if 1}}".repeat(500), "{{end}}".repeat(500));
    assert!(parse_err(&deep).contains("max nesting depth"));
    // Within the limit, nesting works.
    let ok = format!("{}x{}", "{{if 1}}".repeat(50), "{{end}}".repeat(50));
    assert_eq!(r(&ok), "x");
}

#[test]
fn deepest_allowed_nesting_fits_a_small_stack() {
    // Tokio workers and test threads have 2 MiB stacks; stay well inside.
    let run = || {
        let parens = format!("{{{{{}1{}}}}}", "(".repeat(98), ")".repeat(98));
        assert_eq!(r(&parens), "1");
        let ifs = format!("{}x{}", "{{with .}}".repeat(99), "{{end}}".repeat(99));
        assert_eq!(r(&ifs), "x");
        // Recursion down to the execution depth limit, through nested actions.
        let rec = r#"{{define "r"}}{{if .}}{{with .}}{{template "r" slice . 1}}{{end}}{{end}}{{end}}{{template "r" .}}"#;
        let t = Template::parse(rec).unwrap();
        assert!(t.execute(&json!("x".repeat(60))).is_ok());
        let e = t.execute(&json!("x".repeat(500))).unwrap_err();
        assert!(e.to_string().contains("exceeded maximum template depth"), "{e}");
    };
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn template_is_shareable() {
    fn assert_send_sync<T: Send + Sync + std::fmt::Debug>() {}
    assert_send_sync::<Template>();
    let t = std::sync::Arc::new(Template::parse("{{.}}").unwrap());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || t.execute(&json!(i)).unwrap())
        })
        .collect();
    let outs: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outs, ["0", "1", "2", "3"]);
}

// ---------------------------------------------------------------- tabwriter

fn tab(text: &str) -> String {
    let mut w = docker_tabwriter();
    w.write_str(text);
    w.finish()
}

#[test]
fn tabwriter_docker_images() {
    let body = table_body(r"table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}");
    let t = Template::parse(&body).unwrap();
    let mut w = docker_tabwriter();
    w.write_str("REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n");
    for img in [
        json!({"Repository": "alpine", "Tag": "latest", "ID": "c059bfaa849c", "CreatedSince": "2 weeks ago", "Size": "5.59MB"}),
        json!({"Repository": "registry.example.com/team/app", "Tag": "v1.2.3", "ID": "0123456789ab", "CreatedSince": "3 months ago", "Size": "1.2GB"}),
    ] {
        w.write_str(&t.execute(&img).unwrap());
        w.write_str("\n");
    }
    assert_eq!(
        w.finish(),
        "REPOSITORY                      TAG       IMAGE ID       CREATED        SIZE\n\
         alpine                          latest    c059bfaa849c   2 weeks ago    5.59MB\n\
         registry.example.com/team/app   v1.2.3    0123456789ab   3 months ago   1.2GB\n"
    );
}

#[test]
fn tabwriter_semantics() {
    // Minimum width 10 includes the padding; the last cell is never padded.
    assert_eq!(tab("a\tb\n"), "a         b\n");
    assert_eq!(tab("REPOSITORY\tTAG\n"), "REPOSITORY   TAG\n");
    // A trailing tab pads the cell before it; the empty last cell adds nothing.
    // (Docker 28 `docker context ls --format 'table {{.Name}}\t{{.Description}}\t'`.)
    assert_eq!(
        tab("NAME\tDESCRIPTION\t\naveryveryverylongname\t\t\ndefault\tCurrent DOCKER_HOST based configuration\t\n"),
        "NAME                    DESCRIPTION                               \n\
         averyveryverylongname                                             \n\
         default                 Current DOCKER_HOST based configuration   \n"
    );
    // Column blocks: a line without the column ends the block.
    assert_eq!(
        tab("aaaaaaaaaaaaaaa\tb\nno tabs here\nc\td\n"),
        "aaaaaaaaaaaaaaa   b\nno tabs here\nc         d\n"
    );
    // Lines with more columns get their own block for the extra column.
    assert_eq!(
        tab("a\tb\tc\nx\ty\nlonger-than-ten\tq\tr\n"),
        "a                 b         c\nx                 y\nlonger-than-ten   q         r\n"
    );
    // No trailing newline: the last line is written as is.
    assert_eq!(tab("a\tb"), "a         b");
    assert_eq!(tab(""), "");
    assert_eq!(tab("\n\n"), "\n\n");
    // Width counts characters, not bytes.
    assert_eq!(tab("héllo\tx\n"), "héllo     x\n");
    // '\f' ends a block and prints as a newline.
    assert_eq!(
        tab("a\tb\x0clonger-than-ten\tc\n"),
        "a         b\nlonger-than-ten   c\n"
    );
    // Empty cells are padded too.
    assert_eq!(tab("\t\tx\n"), "                    x\n");
    // Tab padding rounds cells up to tab stops.
    let mut w = TabWriter::new(0, 8, 1, '\t');
    w.write_str("a\tb\nlonger-cell\tc\n");
    assert_eq!(w.finish(), "a\t\tb\nlonger-cell\tc\n");
    let mut w = TabWriter::new(2, 4, 1, '.');
    w.write_str("ab\tc\n");
    assert_eq!(w.finish(), "ab.c\n");
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn parse_never_panics(text in "\\PC{0,64}") {
        let _ = Template::parse(&text);
    }

    #[test]
    fn template_like_text_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("{{".to_string()), Just("}}".to_string()), Just("{{-".to_string()),
                Just(" -}}".to_string()), Just("/*".to_string()), Just("*/".to_string()),
                Just(" ".to_string()), Just("|".to_string()), Just("(".to_string()),
                Just(")".to_string()), Just(".".to_string()), Just("$x".to_string()),
                Just(":=".to_string()), Just("=".to_string()), Just(",".to_string()),
                Just("\"s\"".to_string()), Just("`r`".to_string()), Just("'c'".to_string()),
                Just("1".to_string()), Just("-2.5e3".to_string()), Just("0x1f".to_string()),
                Just(".a".to_string()), Just(".b.c".to_string()), Just("$".to_string()),
                Just("if".to_string()), Just("else".to_string()), Just("end".to_string()),
                Just("range".to_string()), Just("with".to_string()), Just("break".to_string()),
                Just("continue".to_string()), Just("define".to_string()),
                Just("template".to_string()), Just("block".to_string()), Just("nil".to_string()),
                Just("true".to_string()), Just("len".to_string()), Just("index".to_string()),
                Just("slice".to_string()), Just("printf".to_string()), Just("eq".to_string()),
                Just("and".to_string()), Just("json".to_string()), Just("truncate".to_string()),
                Just("\"%d %s %5.2f %v\"".to_string()), Just("text".to_string()),
                "[a-z]{1,3}".prop_map(|s| s),
            ],
            0..24,
        )
    ) {
        let text = parts.concat();
        if let Ok(t) = Template::parse(&text) {
            let data = json!({"a": [1, "x", null], "b": {"c": 2.5}, "x": ""});
            let _ = t.execute(&data);
        }
    }

    #[test]
    fn printf_never_panics(format in "\\PC{0,24}", n in any::<i64>(), f in any::<f64>()) {
        let text = format!("{{{{printf {} {} {} \"s\" .}}}}", serde_json::to_string(&format).unwrap(), n, if f.is_finite() { format!("{f:e}") } else { "0".into() });
        if let Ok(t) = Template::parse(&text) {
            let _ = t.execute(&json!([1, {"k": null}]));
        }
    }

    #[test]
    fn tabwriter_keeps_text(cells in proptest::collection::vec("[a-zé ]{0,12}", 0..20), seps in proptest::collection::vec(prop_oneof![Just('\t'), Just('\n')], 0..20)) {
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            text.push_str(c);
            if let Some(s) = seps.get(i) { text.push(*s); }
        }
        let out = tab(&text);
        // Only padding is added: removing spaces gives the text without tabs.
        let strip = |s: &str| s.chars().filter(|c| *c != ' ' && *c != '\t').collect::<String>();
        prop_assert_eq!(strip(&out), strip(&text));
        prop_assert_eq!(out.matches('\n').count(), text.matches('\n').count());
    }
}
