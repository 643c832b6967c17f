fn main() -> std::process::ExitCode {
    common::driver::main::<rotate_aws_access_key::AwsAccessKey>()
}
