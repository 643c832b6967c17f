fn main() -> std::process::ExitCode {
    rotate_rest_api::main()
}
