fn main() -> std::process::ExitCode {
    common::driver::main::<rotate_ssh_user::SshUser>()
}
