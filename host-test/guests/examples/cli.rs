//! The command-line contract of `webgpu-virt run`: arguments, a preopened directory, and the
//! exit code. Reads `greeting.txt` from `.`, writes `reply.txt` beside it, exits with the code
//! given as `--exit N`.
struct Command;

impl guests::exports::wasi::cli::run::Guest for Command {
    async fn run() -> Result<(), ()> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        println!("args: {args:?}");
        match std::fs::read_to_string("greeting.txt") {
            Ok(text) => {
                println!("greeting: {}", text.trim());
                std::fs::write("reply.txt", format!("hello back to {}", text.trim())).expect("writing reply.txt");
            }
            Err(e) => println!("no greeting: {}", e.kind()),
        }
        if let Some(i) = args.iter().position(|a| a == "--exit") {
            let code: i32 = args.get(i + 1).and_then(|c| c.parse().ok()).unwrap_or(1);
            std::process::exit(code);
        }
        Ok(())
    }
}

guests::export_command!(Command);
