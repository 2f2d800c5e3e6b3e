//! The fixed vocabulary of the generated company: tables, actions, peer
//! groups with their sites and habits, and time zones. Changing realism (a
//! new table, a group's volumes) usually means editing only this file.

/// A database table: its name, the bytes a row takes on the wire, and how
/// many rows it holds (a full read returns this many).
pub(super) struct Table {
    pub name: &'static str,
    pub width: u32,
    pub size: u32,
}

const fn table(name: &'static str, width: u32, size: u32) -> Table {
    Table { name, width, size }
}

pub(super) const TICKETS: u8 = 0;
pub(super) const COMMENTS: u8 = 1;
pub(super) const CUSTOMERS: u8 = 2;
pub(super) const KB: u8 = 3;
pub(super) const ESCALATIONS: u8 = 4;
pub(super) const DEVICES: u8 = 5;
pub(super) const INVOICES: u8 = 6;
pub(super) const PAYMENTS: u8 = 7;
pub(super) const PAYMENT_METHODS: u8 = 8;
pub(super) const CRM_ACCOUNTS: u8 = 9;
pub(super) const CRM_CONTACTS: u8 = 10;
pub(super) const DEPLOYMENTS: u8 = 11;
pub(super) const FEATURE_FLAGS: u8 = 12;
pub(super) const SERVICE_LOGS: u8 = 13;
pub(super) const EVENTS_DAILY: u8 = 14;
pub(super) const TICKET_METRICS: u8 = 15;
pub(super) const REVENUE: u8 = 16;
pub(super) const HR_EMPLOYEES: u8 = 17;
pub(super) const HR_SALARIES: u8 = 18;
pub(super) const AUTH_USERS: u8 = 19;
pub(super) const PG_ACTIVITY: u8 = 20;
pub(super) const PG_LOCKS: u8 = 21;

pub(super) const TABLES: [Table; 22] = [
    table("support.tickets", 1200, 1_200_000),
    table("support.ticket_comments", 900, 4_500_000),
    table("support.customers", 650, 68_000),
    table("support.kb_articles", 1800, 3_200),
    table("support.escalations", 700, 45_000),
    table("support.customer_devices", 400, 150_000),
    table("billing.invoices", 550, 900_000),
    table("billing.payments", 350, 850_000),
    table("billing.payment_methods", 300, 70_000),
    table("crm.accounts", 800, 12_000),
    table("crm.contacts", 500, 5_200),
    table("eng.deployments", 600, 25_000),
    table("eng.feature_flags", 250, 800),
    table("eng.service_logs", 1500, 50_000_000),
    table("analytics.events_daily", 300, 30_000_000),
    table("analytics.ticket_metrics", 220, 400_000),
    table("analytics.revenue", 260, 2_500_000),
    table("hr.employees", 900, 3_500),
    table("hr.salaries", 200, 3_500),
    table("auth.users", 450, 3_800),
    table("pg_catalog.pg_stat_activity", 1000, 300),
    table("pg_catalog.pg_locks", 200, 1_000),
];

/// Tables the Sunday maintenance job visits, in the fixed order of its script.
/// hr.salaries is deliberately absent: nobody touches it in normal behaviour.
pub(super) const MAINTENANCE_TABLES: [u8; 19] = [
    TICKETS,
    COMMENTS,
    CUSTOMERS,
    KB,
    ESCALATIONS,
    DEVICES,
    INVOICES,
    PAYMENTS,
    PAYMENT_METHODS,
    CRM_ACCOUNTS,
    CRM_CONTACTS,
    DEPLOYMENTS,
    FEATURE_FLAGS,
    SERVICE_LOGS,
    EVENTS_DAILY,
    TICKET_METRICS,
    REVENUE,
    HR_EMPLOYEES,
    AUTH_USERS,
];

pub(super) const SELECT: u8 = 0;
pub(super) const UPDATE: u8 = 1;
pub(super) const INSERT: u8 = 2;
pub(super) const DELETE: u8 = 3;
pub(super) const VACUUM: u8 = 4;
pub(super) const ANALYZE: u8 = 5;
pub(super) const COPY: u8 = 6;
pub(super) const ACTIONS: [&str; 7] = [
    "select", "update", "insert", "delete", "vacuum", "analyze", "copy",
];

/// A peer group: people with the same job and hence similar access habits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Group {
    Tier1,
    Tier2,
    Billing,
    Engineering,
    Analytics,
    Dba,
    /// Machine accounts (not in [`GROUPS`]: nobody is drawn into it; an
    /// account is moved here when it becomes a service account).
    Service,
}

pub(super) const GROUPS: [Group; 6] = [
    Group::Tier1,
    Group::Tier2,
    Group::Billing,
    Group::Engineering,
    Group::Analytics,
    Group::Dba,
];

impl Group {
    pub(super) fn name(self) -> &'static str {
        match self {
            Group::Tier1 => "tier1-support",
            Group::Tier2 => "tier2-support",
            Group::Billing => "billing",
            Group::Engineering => "engineering",
            Group::Analytics => "analytics",
            Group::Dba => "dba",
            Group::Service => "service",
        }
    }

    pub(super) fn share(self) -> f64 {
        match self {
            Group::Tier1 => 0.35,
            Group::Tier2 => 0.20,
            Group::Billing => 0.12,
            Group::Engineering => 0.15,
            Group::Analytics => 0.10,
            Group::Dba => 0.05,
            Group::Service => 0.0,
        }
    }

    pub(super) fn is_support(self) -> bool {
        matches!(self, Group::Tier1 | Group::Tier2)
    }

    /// Sites (time zones) the group works from, with their weights.
    pub(super) fn sites(self) -> &'static [(u8, f64)] {
        match self {
            Group::Tier1 | Group::Tier2 => &[(MANILA, 0.45), (DUBLIN, 0.30), (CHICAGO, 0.25)],
            Group::Billing => &[(NEW_YORK, 1.0)],
            Group::Engineering => &[(BERLIN, 0.6), (LOS_ANGELES, 0.4)],
            Group::Analytics => &[(NEW_YORK, 0.6), (LONDON, 0.4)],
            Group::Dba => &[(DUBLIN, 0.5), (MANILA, 0.5)],
            Group::Service => &[(BERLIN, 1.0)],
        }
    }

    /// Queries per working day: (median, min, max) of the per-user mean.
    pub(super) fn queries(self) -> (f64, f64, f64) {
        match self {
            Group::Tier1 => (115.0, 40.0, 150.0),
            Group::Tier2 => (75.0, 30.0, 100.0),
            Group::Billing => (60.0, 30.0, 80.0),
            Group::Engineering => (40.0, 10.0, 60.0),
            Group::Analytics => (18.0, 5.0, 30.0),
            Group::Dba => (40.0, 10.0, 60.0),
            Group::Service => (0.0, 0.0, 0.0),
        }
    }

    /// Probability that a member has a VPN address besides the workstation.
    pub(super) fn vpn_rate(self) -> f64 {
        match self {
            Group::Tier1 | Group::Tier2 => 0.25,
            Group::Billing => 0.3,
            Group::Engineering => 0.7,
            Group::Analytics => 0.5,
            Group::Dba => 0.6,
            Group::Service => 0.0,
        }
    }
}

/// One line of a group's habits: which table, how often (relative weight),
/// how likely a member is to use it at all, and the rows a query returns
/// (log-normal median and spread, optional cap; 0 = the table size).
pub(super) struct HabitSpec {
    pub table: u8,
    pub weight: f64,
    pub presence: f64,
    pub median: f64,
    pub sigma: f64,
    pub max: u32,
}

const fn hs(table: u8, weight: f64, presence: f64, median: f64, sigma: f64, max: u32) -> HabitSpec {
    HabitSpec {
        table,
        weight,
        presence,
        median,
        sigma,
        max,
    }
}

const TIER1_HABITS: &[HabitSpec] = &[
    hs(TICKETS, 0.40, 1.0, 3.0, 0.8, 200),
    hs(COMMENTS, 0.30, 1.0, 4.0, 0.7, 200),
    hs(CUSTOMERS, 0.20, 1.0, 2.0, 0.5, 5),
    hs(KB, 0.10, 0.9, 3.0, 0.6, 50),
];

const TIER2_HABITS: &[HabitSpec] = &[
    hs(TICKETS, 0.30, 1.0, 8.0, 0.8, 500),
    hs(COMMENTS, 0.25, 1.0, 10.0, 0.7, 500),
    hs(CUSTOMERS, 0.15, 1.0, 3.0, 0.5, 20),
    hs(KB, 0.08, 0.9, 5.0, 0.6, 100),
    hs(ESCALATIONS, 0.12, 1.0, 6.0, 0.7, 300),
    hs(DEVICES, 0.08, 0.9, 5.0, 0.6, 100),
    hs(INVOICES, 0.02, 0.6, 3.0, 0.5, 20),
];

const BILLING_HABITS: &[HabitSpec] = &[
    hs(INVOICES, 0.30, 1.0, 15.0, 0.8, 2_000),
    hs(PAYMENTS, 0.25, 1.0, 15.0, 0.8, 2_000),
    hs(PAYMENT_METHODS, 0.10, 1.0, 3.0, 0.5, 50),
    hs(CUSTOMERS, 0.20, 1.0, 2.0, 0.5, 10),
    hs(CRM_ACCOUNTS, 0.12, 1.0, 10.0, 0.7, 500),
    hs(CRM_CONTACTS, 0.03, 0.5, 4.0, 0.6, 50),
];

const ENGINEERING_HABITS: &[HabitSpec] = &[
    hs(DEPLOYMENTS, 0.30, 1.0, 40.0, 0.9, 5_000),
    hs(FEATURE_FLAGS, 0.20, 1.0, 50.0, 0.6, 800),
    hs(SERVICE_LOGS, 0.45, 1.0, 200.0, 1.2, 100_000),
    hs(TICKETS, 0.05, 0.4, 20.0, 0.8, 1_000),
];

const ANALYTICS_HABITS: &[HabitSpec] = &[
    hs(EVENTS_DAILY, 0.35, 1.0, 20_000.0, 1.0, 900_000),
    hs(TICKET_METRICS, 0.30, 1.0, 15_000.0, 0.9, 400_000),
    hs(REVENUE, 0.25, 1.0, 10_000.0, 0.9, 600_000),
    hs(TICKETS, 0.08, 0.4, 5_000.0, 1.0, 200_000),
];

const DBA_HABITS: &[HabitSpec] = &[
    hs(PG_ACTIVITY, 0.40, 1.0, 150.0, 0.5, 0),
    hs(PG_LOCKS, 0.25, 1.0, 300.0, 0.6, 0),
    hs(TICKETS, 0.05, 1.0, 50.0, 1.0, 10_000),
    hs(CUSTOMERS, 0.04, 1.0, 20.0, 1.0, 1_000),
    hs(INVOICES, 0.04, 1.0, 50.0, 1.0, 10_000),
    hs(SERVICE_LOGS, 0.04, 1.0, 1_000.0, 1.0, 100_000),
    hs(EVENTS_DAILY, 0.03, 1.0, 1_000.0, 1.0, 100_000),
    hs(DEPLOYMENTS, 0.04, 1.0, 50.0, 1.0, 5_000),
    hs(CRM_ACCOUNTS, 0.03, 0.8, 20.0, 1.0, 1_000),
    hs(PAYMENTS, 0.03, 0.8, 50.0, 1.0, 10_000),
    hs(FEATURE_FLAGS, 0.03, 0.8, 50.0, 0.8, 800),
    hs(COMMENTS, 0.03, 0.8, 50.0, 1.0, 10_000),
    hs(AUTH_USERS, 0.01, 0.7, 5.0, 0.8, 200),
];

pub(super) fn habit_specs(g: Group) -> &'static [HabitSpec] {
    match g {
        Group::Tier1 => TIER1_HABITS,
        Group::Tier2 => TIER2_HABITS,
        Group::Billing => BILLING_HABITS,
        Group::Engineering => ENGINEERING_HABITS,
        Group::Analytics => ANALYTICS_HABITS,
        Group::Dba => DBA_HABITS,
        Group::Service => &[],
    }
}

pub(super) const MANILA: u8 = 0;
pub(super) const DUBLIN: u8 = 1;
pub(super) const CHICAGO: u8 = 2;
pub(super) const NEW_YORK: u8 = 3;
pub(super) const BERLIN: u8 = 4;
pub(super) const LOS_ANGELES: u8 = 5;
pub(super) const LONDON: u8 = 6;
pub(super) const TZ_NAMES: [&str; 7] = [
    "Asia/Manila",
    "Europe/Dublin",
    "America/Chicago",
    "America/New_York",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Europe/London",
];
/// Each site's name on the command line (`ueba gen --site-timezone SITE=ZONE`),
/// in the order of [`TZ_NAMES`].
pub(super) const SITE_NAMES: [&str; 7] = [
    "manila",
    "dublin",
    "chicago",
    "new-york",
    "berlin",
    "los-angeles",
    "london",
];
/// Second octet of each site's office network.
pub(super) const SITE_OCTET: [u32; 7] = [30, 20, 40, 50, 60, 70, 80];

pub(super) fn is_analytics_table(t: u8) -> bool {
    matches!(t, EVENTS_DAILY | TICKET_METRICS | REVENUE)
}
