/// Declares each listed `async fn(TestDb)` as a test on every backend.
#[macro_export]
macro_rules! conformance {
    ($module:ident: $($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(complaints_test_support::TestDb::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    if let Some(db) = complaints_test_support::TestDb::postgres().await {
                        super::$test(db).await;
                    }
                }
            )*
        }
    };
}
