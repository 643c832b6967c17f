fn main() -> std::process::ExitCode {
    rotate_okta_user::main()
}
