//! Renders a template over JSON data: `render TEMPLATE [JSON]`.
//! Handy for comparing with the Docker CLI's output.

fn main() {
    let mut args = std::env::args().skip(1);
    let text = args.next().unwrap_or_default();
    let data: serde_json::Value = match args.next() {
        Some(json) => serde_json::from_str(&json).expect("data is not JSON"),
        None => serde_json::Value::Null,
    };
    match berth_gotemplate::Template::parse(&text).and_then(|t| t.execute(&data)) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
