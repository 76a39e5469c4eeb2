//! Listing jobs: filters and cursor pagination.

use super::{at, fetch, insert, job_in, t0};
use workhorse_core::{JobId, JobState};
use workhorse_store::{JobListParams, Store};

async fn list_ids(store: &dyn Store, params: JobListParams) -> Vec<JobId> {
    let page = store.job_list(params).await.expect("list");
    page.jobs.into_iter().map(|j| j.id).collect()
}

/// Queue, state, task and key filters, alone and together; newest (highest id) first.
pub async fn list_filters(store: &dyn Store) {
    // Built in order: ids are UUID v7, and "newest" means the highest id.
    let mut keyed = job_in("emails", "send");
    keyed.key = Some("k1".to_owned());
    let (send, render) = (job_in("reports", "send"), job_in("reports", "render"));
    let mut delayed = job_in("emails", "send");
    delayed.run_at = Some(at(60));
    let jobs = insert(store, t0(), vec![keyed, send, render, delayed]).await;
    let [a, b, c, d] = [0, 1, 2, 3].map(|i| jobs[i].id);
    assert_eq!(fetch(store, at(1), &["reports"], 1).await[0].id, b);

    let all = JobListParams {
        limit: 100,
        ..JobListParams::default()
    };
    let with = |f: fn(&mut JobListParams)| {
        let mut params = all.clone();
        f(&mut params);
        params
    };
    assert_eq!(list_ids(store, all.clone()).await, [d, c, b, a]);
    let cases: [(JobListParams, Vec<JobId>); 6] = [
        (with(|p| p.queue = Some("emails".into())), vec![d, a]),
        (with(|p| p.state = Some(JobState::Scheduled)), vec![d]),
        (with(|p| p.state = Some(JobState::Running)), vec![b]),
        (with(|p| p.task = Some("render".into())), vec![c]),
        (with(|p| p.key = Some("k1".into())), vec![a]),
        (
            with(|p| {
                p.queue = Some("reports".into());
                p.task = Some("send".into());
            }),
            vec![b],
        ),
    ];
    for (params, expected) in cases {
        let described = format!("{params:?}");
        assert_eq!(list_ids(store, params).await, expected, "{described}");
    }
}

/// Pages follow each other by cursor, newest first, and cover every job exactly once.
pub async fn list_paginates_newest_first(store: &dyn Store) {
    let mut inserted = Vec::new();
    for batch in 0..5 {
        let jobs = (0..5).map(|_| job_in("q", "t")).collect();
        inserted.extend(
            insert(store, at(batch), jobs)
                .await
                .into_iter()
                .map(|j| j.id),
        );
    }
    let (mut listed, mut pages, mut cursor) = (Vec::new(), Vec::new(), None);
    loop {
        let params = JobListParams {
            limit: 10,
            cursor,
            ..JobListParams::default()
        };
        let page = store.job_list(params).await.expect("list");
        pages.push(page.jobs.len());
        listed.extend(page.jobs.iter().map(|j| j.id));
        let Some(next) = page.next_cursor else {
            break;
        };
        assert_eq!(
            Some(next),
            listed.last().copied(),
            "the cursor is the page's last job"
        );
        assert!(pages.len() < 10, "pagination does not end");
        cursor = Some(next);
    }
    assert_eq!(pages, [10, 10, 5]);
    let newest_first: Vec<_> = inserted.iter().rev().copied().collect();
    assert_eq!(listed, newest_first);
}
