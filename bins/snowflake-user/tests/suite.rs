//! The end-to-end behaviours every HTTP password rotator shares
//! (`harness::suites::password`), on this binary's fixture.

harness::password_suite!(snowflake_user: "snowflake-user");
