fn main() -> std::process::ExitCode {
    rotate_aws_access_key::main()
}
