//! The embedded asset table. Every file under `crates/workhorse-server/assets` must be
//! listed here; a test walks the folder and fails on a file the table misses.

/// One embedded file.
#[derive(Debug)]
pub(crate) struct Asset {
    /// Path under `/ui/`, e.g. `js/app.js`.
    pub(crate) path: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $content_type:literal),* $(,)?) => {
        /// Every asset of the dashboard, embedded at compile time.
        pub(crate) static ASSETS: &[Asset] = &[
            $(Asset {
                path: $path,
                content_type: $content_type,
                bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $path)),
            }),*
        ];
    };
}

assets! {
    "index.html" => "text/html; charset=utf-8",
    "app.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "js/app.js" => "text/javascript; charset=utf-8",
    "js/api.js" => "text/javascript; charset=utf-8",
    "js/dom.js" => "text/javascript; charset=utf-8",
    "js/format.js" => "text/javascript; charset=utf-8",
    "js/live.js" => "text/javascript; charset=utf-8",
    "js/stats.js" => "text/javascript; charset=utf-8",
    "js/chart.js" => "text/javascript; charset=utf-8",
    "js/views/overview.js" => "text/javascript; charset=utf-8",
    "js/views/jobs.js" => "text/javascript; charset=utf-8",
    "js/views/job.js" => "text/javascript; charset=utf-8",
    "js/views/dead.js" => "text/javascript; charset=utf-8",
    "js/views/queues.js" => "text/javascript; charset=utf-8",
    "js/views/workers.js" => "text/javascript; charset=utf-8",
    "js/views/schedules.js" => "text/javascript; charset=utf-8",
    "js/views/workflow.js" => "text/javascript; charset=utf-8",
}

/// The asset at `path` (relative to `/ui/`), if there is one.
pub(crate) fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn files_under(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read assets dir") {
            let entry = entry.expect("dir entry");
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().expect("file type").is_dir() {
                files_under(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }

    #[test]
    fn every_file_in_the_assets_folder_is_embedded_and_nothing_else() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
        let mut on_disk = Vec::new();
        files_under(&root, "", &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn find_answers_only_exact_paths() {
        assert!(find("js/app.js").is_some());
        assert!(find("../Cargo.toml").is_none());
        assert!(find("js").is_none());
    }
}
