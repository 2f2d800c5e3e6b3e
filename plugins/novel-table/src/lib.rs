//! `novel-table`: flags a user's first access to a table that people like
//! them do not touch.
//!
//! The motivating insider read a customer table their team never used.
//! People do start using new tables all the time, so novelty alone is weak;
//! it becomes strong when the user rarely touches anything new, their peer
//! group never touches this table, and few people in the organisation do.
//!
//! # Model
//!
//! Resources belong to *kinds*: tables, workstations, removable media. The
//! `kinds` setting maps globs to kinds (`[["PC-*", "workstation"]]`, first
//! match wins); a resource no glob matches takes its kind from its shape
//! ([`ueba_sdk::kind::shape_kind`]: a path or URL is its root, so `\\fs01\finance\q1.xlsx`
//! is `\\fs#\finance\*` and `patient/123` is `patient/*`; other dotted
//! names are `table`; other names are themselves; digit runs become `#`,
//! so `PC-1234` is `PC-#`). Habits are counted per
//! kind in *accesses*, one per (user, resource, local day), from the user's
//! second active day on (on the first everything is new), through the
//! learning period too, and halved past [`RECENT_ACCESSES`] so they follow
//! recent habits.
//!
//! On a user's first access to a resource of a kind they already use
//! (after the learning period):
//!
//! * `rate = (firsts + m · rate_pool) / (accesses + m)`: the Good–Turing
//!   chance that this user's next access of the kind is a first one, the
//!   share of their recent accesses that were first accesses, shrunk
//!   towards their peer group's (`rate_pool = (firsts + ½) / (accesses + 1)`
//!   over all members; the organisation's when the user has no group),
//!   worth `m = prior_accesses` accesses. An administrator who logs on to a
//!   new machine every day has a rate near 1; a clerk who logs on to their
//!   own machine every day has one near 0;
//! * `rarity = p_peer · p_org`, where
//!   `p_peer = (other peer-group members who touched it + α) / (other members + 1)`
//!   (1 when the user has no peer group),
//!   `p_org = (other users who touched it + α) / (other users + 1)`, and `α`
//!   is `pseudocount` (0.2): how much "nobody yet" is worth;
//! * `relative = min(1, rarity / typical)`, where `typical` is the geometric
//!   mean rarity of the user's recent discoveries of the kind, shrunk
//!   towards their peer group's (worth five discoveries), the group's
//!   shrunk towards the organisation's by twenty discoveries, and the
//!   organisation's towards its discoveries of every kind by twenty (and
//!   those towards 1 by twenty): what is rare is judged against
//!   what this user usually discovers, and where they and their team
//!   discover too little to say, against what the organisation's
//!   discoveries of the kind are like. A clerk's first logon to a shared
//!   machine nobody has used yet in the log is then weighed against an
//!   organisation where such machines turn up all the time (new and
//!   shared machines, administrators' rounds), not against "nobody ever
//!   touches anything new"; in a database where discoveries are tables
//!   colleagues already read, a table nobody reads stays rare. Where the
//!   rarities of what the user discovers spread widely (half of them
//!   files nobody else has opened, half their team's shared documents),
//!   the geometric mean sits between the two and a file nobody has opened
//!   is far below it though it is like half of what they discover; so
//!   `relative` is the larger of the ratio and `Φ((ln rarity − μ) / σ)`,
//!   the share of their discoveries at least as rare under a normal fit
//!   of the logarithms (mean `μ` and spread `σ` shrunk as `typical` is;
//!   `relative_rarity`). A clerk whose discoveries are all their team's
//!   tables has little spread and keeps the ratio. A kind that appears
//!   mid-log (a new archive share) leans on the organisation's
//!   discoveries of every kind until it has its own: on a file server,
//!   where most discoveries are files nobody else has opened, its files
//!   are judged as such, not as if the organisation only discovered what
//!   everybody uses (on two file-server logs of a separate generator,
//!   with the count of a kind's users below, false alerts fell from 66 to
//!   50 and from 64 to 45, most of them an archive share's first days,
//!   with the same insiders alerted). The
//!   discoveries of the learning period are rated once it ends, when who
//!   touches what is known (rated as they happened, they would look rarer
//!   than they are); later ones as they happen. An administrator's discoveries are all machines one
//!   other person uses, so one more is not rare for them;
//! * resources whose name matches a `sensitive` glob (`*` any run of
//!   characters, `?` one character) are multiplied by `sensitive_factor`.
//!
//! `p_novel = rate · relative`.
//!
//! ## Owned resources
//!
//! A resource one user has used on most of its days (their workstation) is
//! *owned*: a first access by someone else is evidence of its own, however
//! many unowned or brand-new resources the accessor usually discovers.
//! Per resource the detector counts its users `K`, its user-days `N`
//! (distinct user × local day) and its owner, the user with the most days
//! on it, who owns it while they hold more than half of the `N`:
//!
//! * `p_new = (K − ½) / N`: the chance that the resource's next user-day
//!   brings a user new to it. Every user-day after the first either
//!   brought a new user or not, `K − 1` of `N − 1` did; a Jeffreys
//!   half-count gives `(K − 1 + ½) / (N − 1 + 1)`. One user over twenty
//!   days gives 1/40; one over a single day ½, so ownership needs days
//!   behind it;
//! * `owned_rate`: the chance that this user's next access of the kind is a
//!   first access to a resource someone else owns, their share of such
//!   accesses among their recent accesses, shrunk towards their pool's as
//!   `rate` is. An administrator who logs on to a different user's machine
//!   every week has a high one; a clerk who only ever logs on to their own
//!   or to brand-new machines one near 0;
//! * `owned_relative = min(1, p_new / typical)`, `typical` the geometric
//!   mean `p_new` of the owned resources the user recently entered (shrunk
//!   as for `relative`), so entering a machine owned for months is judged
//!   against how established the machines they usually enter are.
//!
//! `p_owned = (owned_rate · owned_relative)^(d / (d + 1))` for an owner of
//! `d` days on the resource: ownership resting on a few days is a reading
//! of as little weight. A file an antivirus or backup account opened once
//! before its user did is "owned" by that account on one day, and a
//! first access to it by the person whose file it is would otherwise be
//! as strong as entering a colleague's machine used for weeks; one day of
//! ownership counts half its score, twenty days 95% (`ownership_weight`).
//! Measured on generated file-server logs (two seeds, 570 users over 40
//! days), false alerts fell by 10% and 17% and two more insiders were
//! alerted; the database, workstation and CERT-like logs were unchanged.
//! And
//! `p = min(p_novel, p_owned) (· sensitive_factor)`: the stronger of the two
//! readings of the same first access (with the resource's hours below, the
//! strongest of three). A resource with no owner (nobody yet,
//! or shared without a majority user) is scored by `p_novel` alone.
//!
//! ## When an owned resource is in use
//!
//! An owned resource also has hours: its owner's. Someone else using it at
//! an hour it is (almost) never in use, when its owner is not there, is
//! evidence, unless being on other people's resources at such hours is the
//! accessor's habit (an administrator's night maintenance rounds). Per
//! resource the detector keeps a clock of its closed
//! active days `D` (local days with a learned event on it) and, per local
//! hour `h`, the days `u_h` it was *in use* at `h`: between the day's first
//! and last learned event, so a workstation logged on at 08:40 and off at
//! 17:10 is in use from 08:00 to 17:00 though nothing is logged between.
//! The days of owned resources of each kind are pooled the same way (days
//! `D_k`, in use at `h` on `U_kh`). On any access (first or repeat) by a
//! user other than an owned resource's owner, once the resource has at
//! least `learning_days` closed days:
//!
//! * `s_h = (U_kh + ½) / (D_k + 1)`: the share of days resources of its kind
//!   are in use at `h`, with a Jeffreys half-count;
//! * `in_use = (u_h + m · s_h) / (D + m)`: the posterior mean of a Beta
//!   with the kind's share as prior, worth `m` = 1 day of the resource's
//!   own (`CLOCK_PRIOR_DAYS`), so the resource's own days decide as they
//!   accumulate, and an hour no resource of the kind is used at is rare
//!   from the start;
//! * `other = (N − owner days + ½) / (N + 1)`: the chance one of its
//!   user-days is not its owner's (`N` its user-days);
//! * `p_hour = other · in_use`, the chance that a user-day on it is someone
//!   else's at an hour like this;
//! * `p_habit = dead_rate · min(1, p_hour / typical)`: the chance that this
//!   user's next access of the kind is to another user's resource at an
//!   hour as dead. `dead_rate` is their share of recent accesses (one per
//!   resource and local day, halved past [`RECENT_ACCESSES`]) that were to
//!   another user's resource with hours, shrunk towards their pool's as
//!   `rate` is; `typical` is the geometric mean `p_hour` of those
//!   accesses, shrunk towards the pool's and the organisation's as a
//!   discovery's typical rarity is, so a new administrator is judged by
//!   their team's rounds;
//! * `p_dead = max(p_hour, p_habit)`: the habit can only weaken the
//!   reading. A clerk who is never on anyone else's machine has no such
//!   accesses, `typical` stays 1 and `p_habit < p_hour`; an administrator
//!   who visits colleagues' machines by day has a `typical` near the
//!   daytime `p_hour` and loses a few points at night; one whose rounds
//!   are other people's machines at night has a small `typical`, and one
//!   more night visit says little of them (a week of such nights takes a
//!   visit at an hour nobody uses from about 50 to under 40).
//!
//! A machine its owner has used 08:00–17:00 on each of 15 days, in use at
//! 18:00 on 18% of the days of machines of its kind, with one other
//! user-day in 17, gives `in_use` ≈ 1.1%, `other` ≈ 8% and scores about
//! 30 for someone not in the habit of such visits; at an
//! hour no machine of the kind is used at, it scores far above 40. A
//! resource with fewer than `learning_days` closed days says nothing of
//! its hours (the Beta would lean on the kind alone), and its owner, or
//! anyone on a resource nobody owns (tables read by a team, a shared
//! machine), is never judged by this reading. The hours are the local
//! hours of the events that taught them, so mostly the owner's.
//!
//! On a first access `p = min(p_novel, p_owned, p_dead)` (· the sensitive
//! factor); a repeat access is scored by `p_dead` alone, reported for the
//! first such access of each (user, resource, local day) and again only
//! when its score rises by 10. The reason and evidence give the owner,
//! `local_hour`, `resource_days`, `resource_days_in_use_at_hour`,
//! `kind_in_use_share_at_hour`, `not_owner_chance` and `p_dead_hour`
//! (`p_hour`; `in_use` is `p_hour / not_owner_chance`); when the habit
//! decides, `p_dead_habit` (`p_habit`) too, and the reason says so.
//!
//! On logon and removable-media logs shaped like CERT r4.2's from a
//! generator written apart from this project (1,000 users over 19 days,
//! administrators who maintain colleagues' machines at night), the habit
//! took false alerts from 47 to 32 over four organisations, most of them
//! administrators; 4 of the 122 insiders alerted before were no longer
//! (administrators on their supervisor's machine at night, which the
//! same rounds make ordinary).
//!
//! A first access to a kind the user has never used (removable media after
//! weeks of logons) is scored the same way one level up: `rate` is the
//! user's share of recent accesses that started a new kind (shrunk towards
//! the pool's), and `relative` the share of the pool's other members who
//! use the kind at all (with `α`). A member counts among a kind's users
//! from their first learned access to it, even when that access was
//! reported and teaches their own habits only when their day closes (see
//! "Findings"): a share a whole team starts using on one day stops being
//! unused by the team after its first users, not at midnight. A long history without a new kind makes
//! the first one strong even when a quarter of the organisation uses it.
//!
//! ## A kind new to a settled user
//!
//! A sparse log shows a habit first on the day it is next used: someone
//! who connects a drive once a week does it first in the log on their
//! third day or their fifth. Those first uses are counted as new kinds,
//! and in a pool they outnumber by far the kinds someone settled in their
//! habits takes up, so a pool's rate made a clerk's first drive after
//! three weeks look as common as a newcomer's (about 2% of accesses,
//! where settled users had none). So the pools also count the accesses
//! of users past their first `learning_days` active days, and those that
//! started a kind (`LateKinds`); a user past theirs is judged by them:
//! their own rate shrunk, worth `m = prior_accesses`, towards their
//! group's settled rate, the group's shrunk towards the organisation's
//! by as much, and the organisation's `(firsts + ½) / (accesses + 1)`. A
//! user in their first `learning_days` active days is judged by the
//! pools' rates over every tenure, the group's shrunk towards the
//! organisation's the same way (a group of six has a half-count worth
//! more than its members' few accesses). The user's own counts are their
//! accesses from their second active day either way.
//!
//! ## Sessions
//!
//! Two first accesses of different kinds within [`SESSION_MS`] (eight
//! hours of event time: a logon to a colleague's machine, then the user's
//! first removable drive) are two pieces of evidence. Reported one by one
//! they would count as one detector's findings, the stronger plus a
//! bounded share of the other, so the later is scored by their combined
//! chance instead, when that is stronger: Fisher's method for two
//! independent chances, `P = q · (1 − ln q)` with `q = p₁ · p₂`. It is
//! below both only when both are small (0.005 and 0.004 give 2·10⁻⁴,
//! 37 points rather than 24; 0.005 and 0.5 give 0.02). Per user the
//! detector remembers the strongest first access of each kind in the
//! session (at most [`SESSION_KINDS`] kinds), by its own chance, so
//! combinations do not chain; accesses of one kind never combine (an
//! administrator's round of new machines is judged access by access). The
//! reason names the other kind and both chances; the evidence adds
//! `p_alone`, `session_kind` and `session_p`. Events not learned from are
//! combined with the session but add nothing to it.
//!
//! An owned resource's owner is named in the reason and in the `owner`
//! evidence (and `sole_user` when nobody else has used it), with
//! `owner_days`, `resource_user_days`, `new_user_chance` (`p_new`),
//! `owned_access_rate`, `owned_relative`, `p_owned` and `p_novel`.
//!
//! The score is `score_from_p(p)`. With 20 users per team, 200 users and
//! a month of a few tables a day, where a usual discovery is a team table a
//! tenth of the organisation reads: a table the user's team uses scores
//! ~18 (dropped), a sensitive table only other teams read ~43, a table
//! nobody has read ~58 and a sensitive one ~68. On workstation logons, an
//! administrator's logon to one more machine of one other user scores ~3,
//! the same logon by a clerk whose team never does it ~77, and a clerk's
//! first removable media after three weeks, a quarter of the team using
//! one, ~44. A staff member who logs on to a brand-new machine every day
//! (so `p_novel` says little, under 20) scores ~56 on their first logon to
//! a colleague's machine of twenty days; an administrator who enters a
//! different colleague's machine every week ~12 on one more.
//!
//! ## A manager's resources
//!
//! When the identity file names the user's manager (contract 0.5.0's
//! `manager` column) and the resource another user owns is their
//! manager's, the access is rarer than entering a colleague's: an
//! administrator's rounds take them to many machines, but to their own
//! supervisor's, after the supervisor's day, is a known insider pattern
//! (CERT's "system administrator on the supervisor's machine"). Per kind
//! the detector counts the organisation's learned days on a resource
//! another user owns (one per user, resource and local day, first access
//! or not, reported or not, since such a visit is usually reported), `F`,
//! and those on the user's own manager's, `M` (shared between shards like
//! the other population figures), and
//!
//! * `q = (M + ½) / (F + 1)`: the chance that a day on someone else's
//!   resource is on one's manager's, with a Jeffreys half-count;
//!
//! multiplies the two readings that are about being on someone else's
//! resource, `p_owned` and `p_dead` (the latter for repeat accesses too):
//! each is the chance of an access to another user's resource (as
//! established, at an hour as dead), and `q` the chance that such an
//! access is to the manager's. An organisation where people often use
//! their manager's machine (an assistant's) has a large `M` and `q` says
//! little; one where nobody does says more the more such days it has
//! seen, and nothing before it has seen any (`q` = ½). The reason says so
//! and the evidence adds `manager_share` (`q`; the reason gives `F`), in
//! place of `ownership_weight`, which `owner_days` gives (`d / (d + 1)`),
//! so that a first access with every reading stays within the host's
//! default of 32 evidence items. Without a `manager` column nothing
//! changes.
//!
//! ## A team taking a resource up
//!
//! A peer group often takes a resource up together: a month-end close
//! sends a finance team to tables it does not read the rest of the month,
//! a new report or share reaches a whole team in a day. Its first member
//! is judged by their own habits as any first access; for the members
//! after, what they share explains the access better. Per resource and
//! peer group the detector counts the members who first touched it on the
//! latest local day and the day before (`R` of them by the access's local
//! day; shared between shards like the other population figures), and
//!
//! * `p_team = (R + a) / (L + 1)`: the chance that one more of the `L`
//!   members who had not used it before takes it up today, with the
//!   pseudocount `a`, as the day's rate of members taking it up;
//!
//! the access is scored by `max(p, p_team)` (times the sensitive factor:
//! a sensitive table stays stricter), so the team's reading can only
//! weaken it. When it decides, the reason says how many took it up, and
//! the access is no discovery of the member's: it is counted as an access
//! but not a first one in their and their pools' discovery rates, so a
//! member whose team took up a new table is not thereby excused on the
//! next table they reach for alone. One other member the same day makes
//! the next unremarkable (with 20 members, `p_team` ≈ 6%). On three ERP
//! logs of a separate generator (a finance team's month-end close,
//! support teams taking up new tables) it took false alerts from 35, 54
//! and 14 to 26, 49 and 8, and one insider of 30, whose detection had
//! rested on a first access to a table eight of their peers took up that
//! day, fell below the threshold (54 where 62); the database and
//! workstation logs of this repository's generator are unchanged.
//!
//! ## The user's own named space
//!
//! A resource whose path names the user, as a whole segment (a home
//! folder `\\fs04\home$\jjones\…`, `C:\Users\jjones\…`, `/home/jjones/…`,
//! the folder a scanner files `jjones`'s scans in), is in a space made for
//! them: its files are new to them because someone or something (the
//! scanner, a backup, the user's own new file) has just put them there, and
//! their first access says nothing of reaching for what is not theirs. It
//! is never reported, and is learned as any first access: a user whose
//! home folder fills with new files is someone who touches new things,
//! and their other first accesses are judged with that rate. (Counting
//! them as ordinary accesses instead made file users' discoveries look
//! rare: on two generated file-server logs it raised false alerts from 32
//! and 36 to 45 and 52.) The name is the user's as the log writes it, or
//! its part before `@` or after `\` (an address or a `DOMAIN\user`),
//! compared without case, and at least [`MIN_NAME_CHARS`] characters long,
//! so a user named after a folder (`hr`) is not taken for its owner.
//! Someone else's home folder is judged as any resource, with its owner.
//!
//! # Findings
//!
//! One per (user, resource), on the first access ever (or, while the
//! access is not learned, on the first of each day: see below), and only
//! after the global learning period (`learning_days` of event time from the
//! first event seen) and the user's first active day; during them the
//! detector only learns who touches what and how often each user
//! discovers. Scores below `min_score` are dropped.
//!
//! # Events not to learn from
//!
//! An event with `learn` false (the host holds the user out of learning,
//! e.g. while their alert episode is open) is scored like any other but
//! teaches nothing, so an ongoing attack does not become the user's normal:
//! the resource does not join the resources they know, the access counts
//! towards no discovery or ownership rate (theirs or their pools'), the
//! resource gains no user, user-day or owner, and the user's peer group
//! and active days stay as they were (an unlearned event
//! on a new day is scored as on that day, which is not added to their
//! history). A repeat access does nothing. An insider reading one new
//! table after another is thus judged on each against the habits from
//! before the episode, however many they read. Since it stays new while
//! they are held, a resource first accessed in unlearned events is
//! reported once per local day it is used; the day's list of such
//! resources is dropped at the user's next learned event.
//!
//! The host holds a user until their episode ends (their risk calms,
//! `risk.hold_days` pass, or an analyst judges it benign) and for good once
//! it is judged malicious, so a learned event after unlearned ones means
//! the episode ended without that verdict, and what the user did while
//! held was their work after all (a new duty, a team's new report). So
//! the first accesses a held user makes (the first [`PENDING_FIRSTS`]
//! resources, with the rarity, ownership and hour readings they were
//! scored with) are kept, and learned at their next learned event, before
//! it is scored, in the order they were made, as learned first accesses
//! that were not reported: their discovery, ownership and hour habits
//! count them, the resources count them among their users and user-days,
//! and the resources are theirs. Without this, each of them was new again
//! after the episode, and its first learned access alerted again. Their
//! active days stay as they were (held days are not added to them).
//!
//! One thing a held user does teach: their peer group counts them, once,
//! among its members who touched the resource (the user keeps it in their
//! list with no days, so that it stays new to them and is not counted
//! twice). A team takes up a new report or a rotation's records together,
//! and the first few of them to do so alert and are held; were their
//! reads not counted, the resource would look untouched by the team to
//! every colleague after them, and alert on each: on SaaS audit logs of a
//! separate generator (977 users, 30 days), a support team's first days on
//! a new report left it at "7 of 134 peers" while two dozen of them read
//! it. Counting held members took false alerts from 82 to 76 and from 91
//! to 87 on two such logs, with the same insiders alerted and no other
//! log measured changed. Counting a held member weakens the next
//! member's first access by what one more reader says (from "0 of 134
//! peers" to "1 of 134"), so two insiders of one team on the same table
//! still read as rare; the organisation's count, the resource's users and
//! its owner stay with learned accesses, so an intruder on a colleague's
//! machine does not make it shared. Unlearned events do not
//! move a resource's clock or its kind's: nights of an ongoing episode on
//! someone else's machine score as the first did. Which resources'
//! resource-side time score was reported today is kept per user for that
//! day only, so a repeat access is not reported twice. An unlearned event does
//! not start the learning period (it may end it: the period's discoveries
//! are then rated, from what learned events taught), and a user the
//! detector has not learned is not scored (as on their first day).
//!
//! # Time
//!
//! A user's active days are counted when their local day moves forward (or
//! jumps back by more than a day, so a far-future timestamp cannot stop the
//! count for good); an access is counted once per resource and local day.
//!
//! # Memory
//!
//! Per user about 128 bytes (with up to [`SESSION_KINDS`] session
//! entries of 24 bytes each) plus 24 bytes per distinct resource touched
//! (its id, the day of the latest access and the days accessed), at most
//! [`MAX_RESOURCES_PER_USER`] (accesses to further new resources are
//! neither tracked nor scored), plus 44 bytes per kind used (accesses,
//! first accesses, rarity of discoveries, and the same for first accesses
//! to owned resources), plus 4 bytes per resource first accessed today in
//! events not learned from, plus 40 bytes per first access a held user
//! keeps to learn (at most [`PENDING_FIRSTS`]) and about 40 per user ever
//! held, plus 5 bytes per resource whose resource-side
//! time score was reported on their latest such day (at most
//! [`MAX_DEAD_PER_DAY`]). Per resource about 128 bytes (with its owner, the
//! owner's days, its user-days and its clock: the open day with its first
//! and last hour, its closed days, and 24 two-byte counts of days in use)
//! plus 8 bytes per peer group that touched it; per peer group, and once
//! for the organisation, 44 bytes per kind its members use; per kind its
//! name and its pooled clock (200 bytes). The sum of the other shards'
//! shares (below) adds about 100 bytes per resource their users touched
//! (plus 8 per peer group), and per pool about 60 bytes and the kind's name
//! per kind.
//! Ids at or above 2²⁰ are kept in a B-tree, so a huge id never allocates a
//! huge vector.
//!
//! # Sharing with other shards
//!
//! With `--shards N` each instance sees only its own users' events, so its
//! figures about other people would count one shard's users only.
//! [`Detector::population`] shares, from the instance's own users only:
//!
//! * the organisation's user count and, per peer group, its current
//!   members, each with its pooled counts per kind (discovery and
//!   owned-resource counts, members who use the kind) and of new kinds,
//!   about 40 bytes per kind a pool uses; kinds go by name (each instance
//!   numbers them in the order it meets them), the names once per share;
//! * per resource with a user or a day of use: its users, user-days, owner
//!   (the user with the most days on it here) and their days, users per
//!   peer group and its clock (closed days, and the open one so far, with
//!   the days in use at each hour): about 12 bytes, 3 per peer group and
//!   30 to 50 for the clock;
//! * per kind, the pooled hours of its owned resources (about 60 bytes).
//!
//! [`Detector::absorb`] replaces the sum of the others' latest shares, kept
//! in the snapshot; scoring reads the instance's own figures plus that sum.
//! Counts of users, user-days, members and users per group or kind add up,
//! since a user lives in exactly one shard. The rules for the rest:
//!
//! * pooled discovery counts are decayed, each shard halving its own past
//!   the pool's window; their sum is halved (accesses with first accesses,
//!   rated discoveries with their rarities) until it is within the window
//!   again, as heavy as one instance's counts would be;
//! * a resource's owner is the user with the most days on it in any shard,
//!   which is its owner across the organisation since each user's days are
//!   all counted in one shard; on a tie the lower user id (an instance's
//!   first-come rule cannot be seen across shards). They own it while they
//!   hold more than half of the summed user-days, and that decides both
//!   the ownership readings and whether a closed day joins its kind's hours;
//! * a resource's clock is the per-field maximum over the shards (closed
//!   days, days in use at each hour): its days are mostly its owner's, in
//!   one shard, and a sum would count a day twice whenever users of two
//!   shards used it, where the maximum never counts more days than there
//!   were;
//! * a kind's hours add up, so a day on which users of two shards used one
//!   owned resource counts once in each.
//!
//! Everything about a user (the resources they know, their discovery
//! rates, active days, sessions) stays with their shard, as do the global
//! learning period (from the instance's first learned event) and the
//! rating of its discoveries when it ends, against the figures of the last
//! exchange. The other shards' figures are as of the last exchange: a
//! resource another shard's user first touched since then is not yet
//! counted here.
#![deny(missing_docs)]

mod share;
mod upgrade;

use std::cmp::Reverse;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ueba_sdk::calibrate::P_FLOOR;
use ueba_sdk::novelty::{Discovery, FirstToday};
use ueba_sdk::{
    ConfigError, ConfigKey, DAY_MS, Detector, Event, Finding, Info, Symbols, config, score_from_p,
};

use ueba_sdk::table::Table;

use share::{Others, ResourceShare, Share};

/// Distinct resources tracked per user; bounds memory for crawlers.
pub const MAX_RESOURCES_PER_USER: usize = 1 << 16;

/// First accesses a held user keeps to learn once they are learned again
/// (the first ones; later ones stay new to them).
pub const PENDING_FIRSTS: usize = 256;
/// Accesses (user × resource × day) after which a user's discovery counts
/// are halved, so the rate follows their recent habits.
pub const RECENT_ACCESSES: f32 = 256.0;
/// The same for a pool (peer group or organisation).
const POOL_RECENT_ACCESSES: f32 = 8192.0;
/// Rated discoveries after which the typical rarity is halved.
const RECENT_DISCOVERIES: f32 = 64.0;
/// How many discoveries the pool's typical rarity is worth for a user.
const TYPICAL_PRIOR: f64 = 5.0;
/// How many discoveries the level above is worth in a pool's typical
/// rarity: a peer group's leans on the organisation's, the organisation's
/// on rarity 1 (no discount), so a small team's few discoveries say little.
const TYPICAL_POOL_PRIOR: f64 = 20.0;
/// The typical `ln(rarity)` of `own`'s discoveries (see "Model"): shrunk
/// towards the pool's, worth [`TYPICAL_PRIOR`] discoveries; the pool's
/// shrunk towards the organisation's (`org`, when the pool is a peer
/// group) and the organisation's towards `top`, each worth
/// [`TYPICAL_POOL_PRIOR`].
fn typical_log_rarity(own: &Discovery, pool: &Discovery, org: Option<&Discovery>, top: f64) -> f64 {
    let base = org.map_or(top, |o| o.mean_log_rarity(top, TYPICAL_POOL_PRIOR));
    own.typical_log_rarity_from(
        pool.mean_log_rarity(base, TYPICAL_POOL_PRIOR),
        TYPICAL_PRIOR,
    )
}

/// The moments of `ln(rarity)` over the organisation's rated discoveries
/// of every kind, each shrunk towards 0 (rarity 1) by
/// [`TYPICAL_POOL_PRIOR`] discoveries: what the organisation's figures in
/// one kind lean on while that kind has few discoveries of its own.
///
/// A kind that appears in the middle of a log (a new archive share, a
/// scanner's folders) has no typical discovery yet, and leaning on rarity
/// 1 would judge every file in it, which nobody has opened because it is
/// new, as if this organisation's discoveries were of resources everybody
/// uses. Where the organisation's discoveries are of things nobody else
/// touched (a file share) that is far off; where they are tables
/// colleagues read (a database), the base stays near 1 and a table nobody
/// reads stays rare.
#[derive(Clone, Copy, Debug, Default)]
struct Base {
    /// Shrunk mean of `ln(rarity)`.
    mean: f64,
    /// Shrunk mean of `ln(rarity)²`.
    second: f64,
}

impl Base {
    fn of<'a>(kinds: impl Iterator<Item = &'a KindStats>) -> Base {
        let (mut sum, mut sq, mut n) = (0.0, 0.0, 0.0);
        for k in kinds {
            sum += f64::from(k.discovery.log_rarity);
            sq += f64::from(k.log_rarity_sq);
            n += f64::from(k.discovery.rated);
        }
        let mean = sum / (n + TYPICAL_POOL_PRIOR);
        let second = sq / (n + TYPICAL_POOL_PRIOR);
        if mean.is_finite() && second.is_finite() {
            Base {
                mean: mean.min(0.0),
                second: second.max(0.0),
            }
        } else {
            Base::default()
        }
    }
}

/// How rare a discovery of `rarity` is among those of the user (`own`),
/// shrunk towards their pool's and the organisation's as
/// [`typical_log_rarity`] is: `min(1, rarity / typical)`, or, when their
/// discoveries' rarities spread widely, the share of them at least as
/// rare, `Φ((ln rarity − μ) / σ)` for the mean `μ` and spread `σ` of their
/// logarithms, when that is larger. Someone whose discoveries are half
/// files nobody else has opened and half a team's shared documents has a
/// typical rarity between the two, which one more file nobody has opened
/// is far below; it is as rare as half of what they discover. A clerk
/// whose discoveries are all their team's tables has little spread, and a
/// table nobody reads stays as rare as the ratio says.
fn relative_rarity(
    rarity: f64,
    own: &KindStats,
    pool: Option<&KindStats>,
    org: Option<&KindStats>,
    top: Base,
) -> f64 {
    let empty = KindStats::default();
    let pool = pool.unwrap_or(&empty);
    // The mean of ln(rarity) is the typical one.
    let mean = typical_log_rarity(
        &own.discovery,
        &pool.discovery,
        org.map(|o| &o.discovery),
        top.mean,
    );
    let ratio = Discovery::relative_rarity(rarity, mean);
    // The second moment, each level shrunk towards the one above as the
    // mean is (the organisation's towards every kind's).
    let second = |k: &KindStats, base: f64, weight: f64| {
        (f64::from(k.log_rarity_sq) + weight * base) / (f64::from(k.discovery.rated) + weight)
    };
    let org_second = org.map_or(top.second, |o| second(o, top.second, TYPICAL_POOL_PRIOR));
    let pool_second = second(pool, org_second, TYPICAL_POOL_PRIOR);
    let var = second(own, pool_second, TYPICAL_PRIOR) - mean * mean;
    if !(var.is_finite() && var > 1e-9 && mean.is_finite()) {
        return ratio;
    }
    let z = (rarity.clamp(P_FLOOR, 1.0).ln() - mean) / var.sqrt();
    let share = 0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2);
    if share.is_finite() {
        ratio.max(share).clamp(0.0, 1.0)
    } else {
        ratio
    }
}

/// Kind names tracked; resources of further kinds share the last one.
const MAX_KINDS: usize = 1024;
const NO_DAY: i64 = i64::MIN;
const NO_USER: u32 = u32::MAX;
/// How many of a resource's own active days the hours of its kind are
/// worth in its posterior chance of being in use at an hour.
const CLOCK_PRIOR_DAYS: f64 = 1.0;
/// A user's repeat accesses to one resource report the resource-side time
/// reading again on a day only when its score rises by this much.
const RESCORE_STEP: f32 = 10.0;
/// Resources per user and day whose resource-side time score is kept.
pub const MAX_DEAD_PER_DAY: usize = 256;
/// The fewest characters of a user's name that a path segment must match
/// for the resource to be in the user's own named space.
pub const MIN_NAME_CHARS: usize = 3;
/// How far back, in event time, first accesses of other kinds count as the
/// same session: a working shift.
pub const SESSION_MS: i64 = 8 * 3_600_000;
/// Kinds remembered per user's session.
pub const SESSION_KINDS: usize = 4;
/// The kind of a resource whose kind nobody has used yet, in an event that
/// may not be learned (so the kind is not named).
const UNSEEN_KIND: u32 = u32::MAX;
const DEFAULT_SENSITIVE: [&str; 5] = [
    "*.customers",
    "*.contacts",
    "*.payment_methods",
    "hr.*",
    "auth.*",
];

/// The operator's settings; part of the snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Days of event time, from the first event seen, with no findings.
    pub learning_days: u32,
    /// Findings scoring below this are dropped as noise.
    pub min_score: f32,
    /// Globs naming sensitive resources.
    pub sensitive: Vec<String>,
    /// Multiplies `p` for a sensitive resource (smaller is stricter).
    pub sensitive_factor: f64,
    /// What "nobody has touched it yet" counts as in the peer and
    /// organisation shares.
    pub pseudocount: f64,
    /// (glob, kind) pairs; a resource's kind is that of the first glob it
    /// matches, else its shape (see the module docs).
    pub kinds: Vec<(String, String)>,
    /// How many accesses the peer group's discovery rate is worth.
    pub prior_accesses: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            learning_days: 7,
            min_score: 20.0,
            sensitive: DEFAULT_SENSITIVE.iter().map(|s| s.to_string()).collect(),
            sensitive_factor: 0.1,
            pseudocount: 0.2,
            kinds: Vec::new(),
            prior_accesses: 30.0,
        }
    }
}

/// The novel-table detector: first accesses scored by the user's own
/// discovery rate and by how unusual the resource is for their peer group
/// and the organisation, relative to what they usually discover.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NovelTable {
    config: Config,
    /// Bumped when `sensitive` or `kinds` change, so cached matches are
    /// recomputed.
    config_generation: u32,
    first_ms: Option<i64>,
    /// Whether the discoveries of the learning period have been rated.
    learning_rated: bool,
    /// Every user id seen, in order of first sight.
    user_ids: Vec<u32>,
    users: Table<User>,
    resources: Table<Resource>,
    groups: Table<Pool>,
    /// The whole organisation, as a pool; its `members` is the user count.
    org: Pool,
    kind_names: Vec<String>,
    kind_index: BTreeMap<String, u32>,
    /// Per kind id, the hours its owned resources are in use.
    #[serde(default)]
    clocks: Vec<KindClock>,
    /// The sum of the other instances' latest shares (see the module docs).
    #[serde(default)]
    others: Others,
    /// Per user, the first accesses they made while held out of learning,
    /// learned once they are learned again ("Events not to learn from").
    pending: Table<Vec<PendingFirst>>,
    /// Days on another user's resource, and on the user's manager's ("A
    /// manager's resources").
    managers: Managers,
    /// Peer groups taking up resources together ("A team taking a
    /// resource up").
    waves: Waves,
    /// New kinds among settled users' accesses ("A kind new to a settled
    /// user").
    late_kinds: LateKinds,
}

/// The members of one peer group who first touched a resource on its
/// latest local day of such first touches, and on the day before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Adoption {
    pub(crate) group: u32,
    /// The latest local day a member first touched it.
    pub(crate) day: i64,
    /// Members who first touched it on `day`.
    pub(crate) today: u32,
    /// Members who first touched it on the day before `day`.
    pub(crate) before: u32,
}

impl Adoption {
    /// Members who took it up on local `day` or the day before.
    fn recent(&self, day: i64) -> u32 {
        if self.day == day {
            self.today.saturating_add(self.before)
        } else if self.day.checked_add(1) == Some(day) {
            self.today
        } else {
            0
        }
    }

    /// Count a member's first touch on local `day`; one more than a day
    /// older than the latest is past the window and not counted.
    fn add(&mut self, day: i64) {
        if day == self.day {
            self.today = self.today.saturating_add(1);
        } else if day.checked_sub(1) == Some(self.day) {
            *self = Adoption {
                day,
                today: 1,
                before: self.today,
                ..*self
            };
        } else if day > self.day {
            *self = Adoption {
                day,
                today: 1,
                before: 0,
                ..*self
            };
        } else if day.checked_add(1) == Some(self.day) {
            self.before = self.before.saturating_add(1);
        }
    }

    /// This and `other` (the same group's, counted elsewhere) as one.
    pub(crate) fn merged(self, other: Adoption) -> Adoption {
        let (late, early) = if self.day >= other.day {
            (self, other)
        } else {
            (other, self)
        };
        let mut m = late;
        if early.day == late.day {
            m.today = m.today.saturating_add(early.today);
            m.before = m.before.saturating_add(early.before);
        } else if early.day.checked_add(1) == Some(late.day) {
            m.before = m.before.saturating_add(early.today);
        }
        m
    }
}

/// Recent first touches of resources by peer groups ("A team taking a
/// resource up"): this instance's, and the sum of the other instances'
/// latest shares, per resource id. Only resources taken up on the latest
/// day seen or the day before are kept.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Waves {
    /// The latest local day a first touch was counted on.
    day: i64,
    pub(crate) own: BTreeMap<u32, Vec<Adoption>>,
    pub(crate) others: BTreeMap<u32, Vec<Adoption>>,
}

impl Waves {
    /// Count a member of `group` first touching `resource` on local `day`.
    fn add(&mut self, resource: u32, group: u32, day: i64) {
        if day > self.day {
            self.day = day;
            let keep = |a: &Adoption| a.day >= day.saturating_sub(1);
            self.own.retain(|_, v| {
                v.retain(keep);
                !v.is_empty()
            });
        } else if day < self.day.saturating_sub(1) {
            return;
        }
        let list = self.own.entry(resource).or_default();
        match list.binary_search_by_key(&group, |a| a.group) {
            Ok(i) => list[i].add(day),
            Err(i) => list.insert(
                i,
                Adoption {
                    group,
                    day,
                    today: 1,
                    before: 0,
                },
            ),
        }
    }

    /// Members of `group` who took `resource` up on local `day` or the day
    /// before, in every instance.
    fn recent(&self, resource: u32, group: u32, day: i64) -> u32 {
        [&self.own, &self.others]
            .iter()
            .filter_map(|m| m.get(&resource))
            .filter_map(|v| v.iter().find(|a| a.group == group))
            .map(|a| a.recent(day))
            .fold(0, u32::saturating_add)
    }
}

/// Per kind, the organisation's learned days on a resource another user
/// owns, and how many were on the user's own manager's ("A manager's
/// resources"): this instance's by kind id, the other instances' (the sum
/// of their latest shares) by kind name.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Managers {
    /// (kind id, days on another's resource, of them on the manager's),
    /// sorted by kind.
    own: Vec<(u32, u32, u32)>,
    /// Per kind name, the other instances' (days on another's resource,
    /// on the manager's).
    pub(crate) others: BTreeMap<String, (u32, u32)>,
}

impl Managers {
    /// Count a learned day on a resource of `kind` another user owns.
    fn count(&mut self, kind: u32, to_manager: bool) {
        let i = match self.own.binary_search_by_key(&kind, |&(k, _, _)| k) {
            Ok(i) => i,
            Err(i) => {
                self.own.insert(i, (kind, 0, 0));
                i
            }
        };
        let entry = &mut self.own[i];
        entry.1 = entry.1.saturating_add(1);
        entry.2 = entry.2.saturating_add(u32::from(to_manager));
    }

    /// This instance's counts, as shared: (kind id, days on another's
    /// resource, on the manager's).
    pub(crate) fn own(&self) -> &[(u32, u32, u32)] {
        &self.own
    }

    /// `(q, F)` for `kind` (named `name` when known): the chance that a
    /// day on another user's resource is on the user's manager's, and the
    /// days it rests on.
    fn share(&self, kind: u32, name: Option<&str>) -> (f64, u32) {
        let (f, m) = self
            .own
            .binary_search_by_key(&kind, |&(k, _, _)| k)
            .map_or((0, 0), |i| (self.own[i].1, self.own[i].2));
        let (of, om) = name
            .and_then(|n| self.others.get(n))
            .copied()
            .unwrap_or((0, 0));
        let (f, m) = (f.saturating_add(of), m.saturating_add(om));
        ((f64::from(m) + 0.5) / (f64::from(f) + 1.0), f)
    }
}

/// Per pool, the accesses of users past their first `learning_days`
/// active days, and those that started a kind new to the user ("A kind
/// new to a settled user"): this instance's, and the other instances' (the
/// sum of their latest shares).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct LateKinds {
    /// The organisation's.
    org: Discovery,
    /// Per peer group.
    groups: BTreeMap<u32, Discovery>,
    /// The other instances' organisation, `None` before any share.
    pub(crate) others_org: Option<Discovery>,
    /// The other instances' peer groups.
    pub(crate) others_groups: BTreeMap<u32, Discovery>,
}

impl LateKinds {
    /// Count a settled user's access, `new_kind` when it started a kind.
    fn count(&mut self, group: Option<u32>, new_kind: bool) {
        self.org.access(new_kind, POOL_RECENT_ACCESSES);
        if let Some(g) = group {
            self.groups
                .entry(g)
                .or_default()
                .access(new_kind, POOL_RECENT_ACCESSES);
        }
    }

    /// This instance's counts, as shared: the organisation's and per group.
    pub(crate) fn own(&self) -> (Discovery, Vec<(u32, Discovery)>) {
        (
            self.org,
            self.groups.iter().map(|(g, d)| (*g, *d)).collect(),
        )
    }

    /// The chance that a settled user's next access starts a new kind, in
    /// `group` (`None`: the organisation is the pool): the group's counts
    /// shrunk towards the organisation's rate, worth `w` accesses. The
    /// organisation's has the half-count of [`Discovery::rate`]: none in
    /// `n` accesses is a rate of about `1 / 2n`, not nothing.
    fn rate(&self, group: Option<u32>, w: f64) -> f64 {
        let org = share::pooled(&self.org, self.others_org.as_ref()).rate();
        let Some(g) = group else {
            return org;
        };
        let empty = Discovery::default();
        let own = self.groups.get(&g).unwrap_or(&empty);
        share::pooled(own, self.others_groups.get(&g)).rate_toward(org, w)
    }
}

/// Discovery counts of a user, or a pool of users, in one kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct KindStats {
    kind: u32,
    discovery: Discovery,
    /// First accesses to a resource another user owns (see the module
    /// docs), among the same accesses; rated by the ownership evidence.
    #[serde(default)]
    owned: Discovery,
    /// Accesses to another user's resource old enough to have hours, among
    /// the same accesses, rated by how dead the hour was (`p_hour`): how
    /// used a user (or a pool) is to being on other people's resources at
    /// hours nobody else is.
    dead: Discovery,
    /// Sum of `ln(rarity)²` over the rated discoveries of `discovery`,
    /// halved with them: with their sum, how widely the rarities of what
    /// this user (or pool) discovers spread.
    log_rarity_sq: f32,
    /// For a pool: members who have used the kind.
    users: u32,
}

impl KindStats {
    /// Rate a discovery's rarity in `discovery` and its square beside it,
    /// halved together past `window` rated ones.
    fn rate_rarity(&mut self, rarity: f64, window: f32) {
        let before = self.discovery.rated;
        self.discovery.rate_rarity(rarity, window);
        let ln = rarity.clamp(P_FLOOR, 1.0).ln() as f32;
        self.log_rarity_sq += ln * ln;
        if self.discovery.rated < before + 0.5 {
            self.log_rarity_sq *= 0.5;
        }
    }
}

/// Per-kind discovery counts, sorted by kind, plus the rate of first
/// accesses to a kind never used before.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Kinds {
    per_kind: Vec<KindStats>,
    new_kind: Discovery,
}

impl Kinds {
    fn get(&self, kind: u32) -> Option<&KindStats> {
        self.per_kind
            .binary_search_by_key(&kind, |k| k.kind)
            .ok()
            .map(|i| &self.per_kind[i])
    }

    fn entry(&mut self, kind: u32) -> &mut KindStats {
        let i = match self.per_kind.binary_search_by_key(&kind, |k| k.kind) {
            Ok(i) => i,
            Err(i) => {
                self.per_kind.insert(
                    i,
                    KindStats {
                        kind,
                        ..KindStats::default()
                    },
                );
                i
            }
        };
        &mut self.per_kind[i]
    }
}

/// A peer group or the organisation: members, and their pooled kinds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Pool {
    members: u32,
    kinds: Kinds,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Touch {
    resource: u32,
    /// Local day of the latest access.
    day: i64,
    /// Whether the first access was a discovery of a kind the user already
    /// used during the learning period, whose rarity is rated when the
    /// period ends.
    learnt: bool,
    /// Distinct local days on which the user accessed it in learned
    /// events; 0 when they touched it only while held out of learning, so
    /// that it is counted among the resource's users and still new to them.
    #[serde(default)]
    days: u32,
}

impl Touch {
    /// Whether the user knows the resource: a learned access, not only
    /// accesses while held.
    fn known(&self) -> bool {
        self.days > 0
    }
}

/// A first access that was reported, held out of the user's habits until
/// their day closes.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Held {
    kind: u32,
    new_kind: bool,
    rarity: f64,
    /// The chance a new user appears, when the resource had another owner.
    #[serde(default)]
    owned: Option<f64>,
    /// The resource-side time reading (`p_hour`) of the access, when the
    /// resource had another owner and days enough to have hours.
    dead: Option<f64>,
}

/// A first access made while the user was held out of learning, kept
/// until the user is learned again and then learned as a first access,
/// with the readings it was scored with.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct PendingFirst {
    resource: u32,
    /// Local day of the access.
    day: i64,
    rarity: f64,
    /// The chance a new user appears, when the resource had another owner.
    owned: Option<f64>,
    /// The resource-side time reading (`p_hour`) of the access, if any.
    dead: Option<f64>,
}

/// A first access scored in the user's current session: its kind, its
/// chance `p` alone and its event time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Novelty {
    kind: u32,
    p: f64,
    ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct User {
    group: Option<u32>,
    /// Resources touched, sorted by id.
    touched: Vec<Touch>,
    last_day: i64,
    active_days: u32,
    kinds: Kinds,
    held: Vec<Held>,
    /// First accesses scored in today's events that may not be learned.
    #[serde(default)]
    unlearned: FirstToday<u32>,
    /// The local day of `dead`, and per resource the highest resource-side
    /// time score reported for the user's repeat accesses that day.
    #[serde(default = "no_day")]
    dead_day: i64,
    #[serde(default)]
    dead: Vec<(u32, u8)>,
    /// The strongest first access per kind in the last [`SESSION_MS`], at
    /// most [`SESSION_KINDS`]: what a first access of another kind is
    /// combined with.
    #[serde(default)]
    session: Vec<Novelty>,
}

fn no_day() -> i64 {
    NO_DAY
}

impl Default for User {
    fn default() -> Self {
        User {
            group: None,
            touched: Vec::new(),
            last_day: NO_DAY,
            active_days: 0,
            kinds: Kinds::default(),
            held: Vec::new(),
            unlearned: FirstToday::default(),
            dead_day: NO_DAY,
            dead: Vec::new(),
            session: Vec::new(),
        }
    }
}

impl User {
    /// Whether an event on local `day` starts a new active day: the day
    /// moves forward, or back by more than one (see the module docs).
    fn starts_day(&self, day: i64) -> bool {
        self.last_day == NO_DAY || day > self.last_day || self.last_day - day > 1
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Resource {
    users: u32,
    per_group: Vec<(u32, u32)>,
    /// The user with the most days on it (the first on a tie): its owner
    /// while they hold most of its user-days.
    #[serde(alias = "first_user")]
    owner: u32,
    /// Distinct local days of the owner on it.
    #[serde(default)]
    owner_days: u32,
    /// Distinct (user, local day) accesses of all its users.
    #[serde(default)]
    user_days: u32,
    /// Whether the name matched `sensitive`, and its kind, under config
    /// generation `.0`.
    sensitive: Option<(u32, bool)>,
    kind: Option<(u32, u32)>,
    /// The hours of the day it is in use (see [`Clock`]).
    #[serde(default)]
    clock: Clock,
}

/// When a resource is in use: of its closed active days (local days with a
/// learned event), on how many each local hour fell between the day's
/// first and last learned event, plus the open day's span. A workstation
/// logged on at 08:40 and off at 17:10 is in use from 08:00 to 17:00 though
/// nothing is logged in between.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Clock {
    /// Local day of the open day, or [`NO_DAY`].
    day: i64,
    /// First and last local hour of the open day.
    first: u8,
    last: u8,
    /// Closed active days.
    days: u32,
    /// Closed days in use at each hour.
    used: [u16; 24],
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            day: NO_DAY,
            first: 0,
            last: 0,
            days: 0,
            used: [0; 24],
        }
    }
}

impl Clock {
    /// Count a learned event at local `hour` of local `day`. Returns the
    /// span of the day it closed, if it closed one: a later day closes the
    /// open one, as does a jump back of more than a day (so a far-future
    /// timestamp cannot freeze the clock); an event of the previous day
    /// (late, or a user a timezone behind) joins the open day.
    fn tick(&mut self, day: i64, hour: u8) -> Option<(u8, u8)> {
        let hour = hour.min(23);
        if self.day != NO_DAY && (day == self.day || (day < self.day && self.day - day <= 1)) {
            self.first = self.first.min(hour);
            self.last = self.last.max(hour);
            return None;
        }
        let closed = (self.day != NO_DAY).then_some((self.first, self.last));
        if let Some((first, last)) = closed {
            self.days = self.days.saturating_add(1);
            for h in usize::from(first)..=usize::from(last.min(23)) {
                self.used[h] = self.used[h].saturating_add(1);
            }
        }
        self.day = day;
        self.first = hour;
        self.last = hour;
        closed
    }
}

impl Clock {
    /// The clock as shared with other instances: the closed days and the
    /// open one so far, since the open day closes only at the resource's
    /// next learned event here, which may be days away; `None` with no day.
    fn shared(&self) -> Option<(u32, [u16; 24])> {
        if self.day == NO_DAY {
            return None;
        }
        let mut used = self.used;
        let (first, last) = (usize::from(self.first), usize::from(self.last));
        for u in used.iter_mut().take(last + 1).skip(first) {
            *u = u.saturating_add(1);
        }
        Some((self.days.saturating_add(1), used))
    }
}

/// The hours owned resources of one kind are in use, pooled over their
/// closed days: the prior of a resource's own [`Clock`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct KindClock {
    days: u64,
    used: [u64; 24],
}

impl KindClock {
    fn add(&mut self, (first, last): (u8, u8)) {
        self.days = self.days.saturating_add(1);
        for h in usize::from(first)..=usize::from(last.min(23)) {
            self.used[h] = self.used[h].saturating_add(1);
        }
    }

    /// The share of days owned resources of the kind are in use at `hour`,
    /// with a Jeffreys half-count, so an hour none is used is rare, never
    /// impossible; ½ with no days.
    fn share(&self, hour: usize) -> f64 {
        let used = self.used.get(hour).copied().unwrap_or(0) as f64;
        (used + 0.5) / (self.days as f64 + 1.0)
    }
}

/// One counted access, for [`NovelTable::count_access`].
#[derive(Clone, Copy, Debug)]
struct Access {
    /// The user's first access to the resource.
    first: bool,
    /// Their first access to a resource of its kind.
    new_kind: bool,
    /// A first access to a resource another user owns.
    owned: bool,
    /// The resource-side time reading's `hour_p`, for an access to another
    /// user's resource that has hours.
    dead: Option<f64>,
}

/// What the resource-side time reading found of an access by someone other
/// than an owned resource's owner (see the module docs).
#[derive(Clone, Copy, Debug)]
struct DeadHour {
    owner: u32,
    hour: u8,
    /// The resource's closed active days, and those in use at `hour`.
    days: u32,
    used: u16,
    /// The kind's share of days in use at `hour` (the prior's mean).
    prior: f64,
    /// Posterior chance the resource is in use at `hour` on a day.
    in_use: f64,
    /// Posterior chance a user-day on it is not its owner's.
    other: f64,
    /// `in_use · other`: the chance of such a user-day, whoever the user.
    hour_p: f64,
    /// The chance this user is on another user's resource at an hour as
    /// dead (their share of such accesses, times how much deader this
    /// hour is than those they are usually on; see the module docs).
    habit: f64,
    /// The owner is the user's manager: the chance that an access to
    /// another user's resource is to one's manager's, and the accesses it
    /// rests on ("A manager's resources").
    manager: Option<(f64, u32)>,
    /// The larger of the two, times the manager's share when the owner is
    /// the user's manager: the reading's chance.
    p: f64,
}

impl Default for Resource {
    fn default() -> Self {
        Resource {
            users: 0,
            per_group: Vec::new(),
            owner: NO_USER,
            owner_days: 0,
            user_days: 0,
            sensitive: None,
            kind: None,
            clock: Clock::default(),
        }
    }
}

/// Who uses a resource, in this instance and the others: its users, its
/// user-days and its owner.
#[derive(Clone, Copy, Debug)]
struct Census {
    users: u32,
    user_days: u32,
    owner: u32,
    owner_days: u32,
}

impl Census {
    /// Who owns the resource, if someone other than `user` does, and the
    /// chance that its next user-day brings a user new to it: of its
    /// `user_days` (N) after the first, `users − 1` (K − 1) brought a new
    /// user, so with a Jeffreys half-count the chance is
    /// `(K − 1 + ½) / (N − 1 + 1) = (K − ½) / N`. One user over N days
    /// gives `1 / 2N`. A user owns it while they hold more than half of
    /// its user-days.
    fn ownership(&self, user: u32) -> Option<(u32, f64)> {
        if self.owner == user || self.user_days == 0 || !self.owned() {
            return None;
        }
        let p = (f64::from(self.users) - 0.5) / f64::from(self.user_days);
        Some((self.owner, p.clamp(0.0, 1.0)))
    }

    /// Whether someone holds more than half of its user-days.
    fn owned(&self) -> bool {
        self.owner != NO_USER && 2 * u64::from(self.owner_days) > u64::from(self.user_days)
    }
}

impl Resource {
    /// Who uses it, in this instance.
    fn census(&self) -> Census {
        Census {
            users: self.users,
            user_days: self.user_days,
            owner: self.owner,
            owner_days: self.owner_days,
        }
    }

    /// Count a new (user, day) on the resource; `days` is the user's days
    /// on it including this one.
    fn add_day(&mut self, user: u32, days: u32) {
        self.user_days = self.user_days.saturating_add(1);
        if self.owner == user {
            self.owner_days = days;
        } else if self.owner == NO_USER || days > self.owner_days {
            self.owner = user;
            self.owner_days = days;
        }
    }

    fn group_count(&self, group: u32) -> u32 {
        self.per_group
            .binary_search_by_key(&group, |&(g, _)| g)
            .map_or(0, |i| self.per_group[i].1)
    }

    fn add_group(&mut self, group: u32, delta: i32) {
        match self.per_group.binary_search_by_key(&group, |&(g, _)| g) {
            Ok(i) => {
                let c = &mut self.per_group[i].1;
                *c = c.saturating_add_signed(delta);
                if *c == 0 {
                    self.per_group.remove(i);
                }
            }
            Err(i) if delta > 0 => self.per_group.insert(i, (group, delta.unsigned_abs())),
            Err(_) => {}
        }
    }
}

/// A pool's figures in one kind, with the other instances'.
struct PoolView {
    members: u32,
    kind: Option<KindStats>,
    /// The organisation's figures in the kind when the pool is a peer
    /// group: what the group's typical rarities lean on while the group
    /// has few discoveries of its own. `None` when the pool is the
    /// organisation.
    org_kind: Option<KindStats>,
    new_kind: Discovery,
    /// The organisation's new kinds when the pool is a peer group, which
    /// the group's rate leans on; `None` when the pool is the organisation.
    org_new_kind: Option<Discovery>,
}

/// Who else touches a resource, for the score and the evidence.
struct Peers {
    group: Option<u32>,
    touch: u32,
    others: u32,
}

impl NovelTable {
    /// Whether `time_ms` falls in the global learning period, which starts
    /// at the first learned event: an event that may not be learned does
    /// not start it.
    fn learning(&mut self, time_ms: i64, learn: bool) -> bool {
        let first = match self.first_ms {
            Some(first) => first,
            None if learn => *self.first_ms.insert(time_ms),
            None => return true,
        };
        let span = i64::from(self.config.learning_days).saturating_mul(DAY_MS);
        time_ms < first.saturating_add(span)
    }

    /// Move a user's memberships from one peer group to another, so group
    /// counts always describe current members. Discovery counts stay with
    /// the group they were made in: they describe its habits.
    fn regroup(&mut self, user_id: u32, to: u32) {
        let Some(user) = self.users.get(user_id) else {
            return;
        };
        let from = user.group;
        if from == Some(to) {
            return;
        }
        let touched: Vec<u32> = user.touched.iter().map(|t| t.resource).collect();
        let kinds: Vec<u32> = user.kinds.per_kind.iter().map(|k| k.kind).collect();
        if let Some(f) = from {
            let pool = self.groups.get_or_insert_with(f, Pool::default);
            pool.members = pool.members.saturating_sub(1);
            for &k in &kinds {
                let e = pool.kinds.entry(k);
                e.users = e.users.saturating_sub(1);
            }
        }
        let pool = self.groups.get_or_insert_with(to, Pool::default);
        pool.members = pool.members.saturating_add(1);
        for &k in &kinds {
            let e = pool.kinds.entry(k);
            e.users = e.users.saturating_add(1);
        }
        for r in touched {
            let res = self.resources.get_or_insert_with(r, Resource::default);
            if let Some(f) = from {
                res.add_group(f, -1);
            }
            res.add_group(to, 1);
        }
        if let Some(user) = self.users.get_mut(user_id) {
            user.group = Some(to);
        }
    }

    /// Whether a resource is sensitive, and its kind, cached per resource.
    fn classify(&mut self, symbols: &Symbols, resource: u32) -> (bool, u32) {
        if let Some(class) = self.cached_class(resource) {
            return class;
        }
        let generation = self.config_generation;
        let name = symbols.resource(resource);
        let (sensitive, kind_name) = self.match_config(name);
        // Past `MAX_KINDS`, further kinds share the last one.
        let kind = ueba_sdk::kind::intern(
            &mut self.kind_names,
            &mut self.kind_index,
            kind_name,
            MAX_KINDS,
        )
        .unwrap_or((MAX_KINDS - 1) as u32);
        // An id whose text has not arrived reads as "": decide it again
        // once it has.
        let res = self
            .resources
            .get_or_insert_with(resource, Resource::default);
        if !name.is_empty() {
            res.sensitive = Some((generation, sensitive));
            res.kind = Some((generation, kind));
        }
        (sensitive, kind)
    }

    /// [`NovelTable::classify`] for an event that may not be learned, which
    /// leaves the resources and kinds as they are: a kind nobody has used
    /// yet is [`UNSEEN_KIND`], which no user or pool has, returned with its
    /// name.
    fn peek_class(&self, symbols: &Symbols, resource: u32) -> (bool, u32, Option<String>) {
        if let Some((sensitive, kind)) = self.cached_class(resource) {
            return (sensitive, kind, None);
        }
        let (sensitive, kind_name) = self.match_config(symbols.resource(resource));
        match self.kind_index.get(&kind_name) {
            Some(&k) => (sensitive, k, None),
            None if self.kind_names.len() < MAX_KINDS => (sensitive, UNSEEN_KIND, Some(kind_name)),
            None => (sensitive, (MAX_KINDS - 1) as u32, None),
        }
    }

    /// The cached sensitivity and kind of a resource, when they were decided
    /// under the current configuration.
    fn cached_class(&self, resource: u32) -> Option<(bool, u32)> {
        let generation = self.config_generation;
        let res = self.resources.get(resource)?;
        match (res.sensitive, res.kind) {
            (Some((g, s)), Some((h, k))) if g == generation && h == generation => Some((s, k)),
            _ => None,
        }
    }

    /// Whether a resource name matches a `sensitive` glob, and the name of
    /// its kind.
    fn match_config(&self, name: &str) -> (bool, String) {
        let sensitive = self
            .config
            .sensitive
            .iter()
            .any(|p| ueba_sdk::glob::matches(p, name));
        (sensitive, ueba_sdk::kind::kind_of(&self.config.kinds, name))
    }

    /// Count an access (first or not) of `kind` by `user`, in the user's
    /// counts and in their group's and the organisation's.
    /// `owned` says the access was the first to a resource another user
    /// owns.
    fn count_access(&mut self, user_id: u32, kind: u32, access: Access) {
        let Access {
            first,
            new_kind,
            owned,
            dead,
        } = access;
        let Some(user) = self.users.get_mut(user_id) else {
            return;
        };
        let group = user.group;
        let k = user.kinds.entry(kind);
        k.discovery.access(first, RECENT_ACCESSES);
        k.owned.access(owned, RECENT_ACCESSES);
        k.dead.access(dead.is_some(), RECENT_ACCESSES);
        if let Some(p) = dead {
            k.dead.rate_rarity(p, RECENT_DISCOVERIES);
        }
        user.kinds.new_kind.access(new_kind, RECENT_ACCESSES);
        let settled = user.active_days > self.config.learning_days;
        let update = |pool: &mut Pool| {
            let e = pool.kinds.entry(kind);
            e.discovery.access(first, POOL_RECENT_ACCESSES);
            e.owned.access(owned, POOL_RECENT_ACCESSES);
            e.dead.access(dead.is_some(), POOL_RECENT_ACCESSES);
            if let Some(p) = dead {
                e.dead.rate_rarity(p, 4.0 * RECENT_DISCOVERIES);
            }
            pool.kinds.new_kind.access(new_kind, POOL_RECENT_ACCESSES);
        };
        if let Some(g) = group {
            update(self.groups.get_or_insert_with(g, Pool::default));
        }
        update(&mut self.org);
        if settled {
            self.late_kinds.count(group, new_kind);
        }
    }

    /// Count the user among their pools' users of `kind`, on their first
    /// learned access to it (on their first day too, where kinds are known
    /// rather than discovered). A reported first access counts at once,
    /// though it teaches the user's own habits only when their day closes:
    /// who uses a kind is the population's figure, and a kind a whole team
    /// takes up on one day (a new archive share) would otherwise look
    /// unused by the team to each of them until the day ended.
    fn count_kind_user(&mut self, user_id: u32, kind: u32) {
        let Some(user) = self.users.get(user_id) else {
            return;
        };
        if let Some(g) = user.group {
            let e = self
                .groups
                .get_or_insert_with(g, Pool::default)
                .kinds
                .entry(kind);
            e.users = e.users.saturating_add(1);
        }
        let e = self.org.kinds.entry(kind);
        e.users = e.users.saturating_add(1);
    }

    /// Record how rare a scored discovery of `kind` was.
    fn rate_discovery(&mut self, user_id: u32, kind: u32, rarity: f64) {
        let Some(user) = self.users.get_mut(user_id) else {
            return;
        };
        let group = user.group;
        user.kinds
            .entry(kind)
            .rate_rarity(rarity, RECENT_DISCOVERIES);
        if let Some(g) = group {
            let pool = self.groups.get_or_insert_with(g, Pool::default);
            pool.kinds
                .entry(kind)
                .rate_rarity(rarity, 4.0 * RECENT_DISCOVERIES);
        }
        self.org
            .kinds
            .entry(kind)
            .rate_rarity(rarity, 4.0 * RECENT_DISCOVERIES);
    }

    /// Record the ownership evidence (the chance a new user appears) of a
    /// first access to a resource another user owns.
    fn rate_owned(&mut self, user_id: u32, kind: u32, p_new: f64) {
        let Some(user) = self.users.get_mut(user_id) else {
            return;
        };
        let group = user.group;
        user.kinds
            .entry(kind)
            .owned
            .rate_rarity(p_new, RECENT_DISCOVERIES);
        if let Some(g) = group {
            let pool = self.groups.get_or_insert_with(g, Pool::default);
            pool.kinds
                .entry(kind)
                .owned
                .rate_rarity(p_new, 4.0 * RECENT_DISCOVERIES);
        }
        self.org
            .kinds
            .entry(kind)
            .owned
            .rate_rarity(p_new, 4.0 * RECENT_DISCOVERIES);
    }

    /// Rate the rarity of every discovery made during the learning period,
    /// now that who touches what is known: rated as they happened, they
    /// would all look rarer than they are, and make every later discovery
    /// look common. Each is judged as the user's first access, without the
    /// user among its touchers. Runs once, over all users' resources.
    fn rate_learning_period(&mut self) {
        self.learning_rated = true;
        let a = self.config.pseudocount;
        let org_others = f64::from(self.org_members().saturating_sub(1));
        for i in 0..self.user_ids.len() {
            let id = self.user_ids[i];
            let Some(user) = self.users.get(id) else {
                continue;
            };
            let group = user.group;
            let learnt: Vec<u32> = user
                .touched
                .iter()
                .filter(|t| t.learnt)
                .map(|t| t.resource)
                .collect();
            for r in learnt {
                let Some((_, kind)) = self.resources.get(r).and_then(|r| r.kind) else {
                    continue;
                };
                let peers = self.peers(group, r);
                let p_peer = peers.group.map_or(1.0, |_| {
                    (f64::from(peers.touch.saturating_sub(1)) + a) / (f64::from(peers.others) + 1.0)
                });
                let users = self.census(r).map_or(0, |c| c.users);
                let org_touch = f64::from(users.saturating_sub(1));
                let p_org = (org_touch + a) / (org_others + 1.0);
                self.rate_discovery(id, kind, (p_peer * p_org).clamp(0.0, 1.0));
            }
        }
    }

    /// Who else in the user's peer group (or organisation, without one)
    /// has touched `resource`, in this instance and the others.
    fn peers(&self, group: Option<u32>, resource: u32) -> Peers {
        let own = self.resources.get(resource);
        let other = self.others.resources.get(resource);
        match group {
            Some(g) => Peers {
                group: Some(g),
                touch: own
                    .map_or(0, |r| r.group_count(g))
                    .saturating_add(other.map_or(0, |o| o.group_count(g))),
                others: self.members(g).saturating_sub(1),
            },
            None => Peers {
                group: None,
                touch: own
                    .map_or(0, |r| r.users)
                    .saturating_add(other.map_or(0, |o| o.users)),
                others: self.org_members().saturating_sub(1),
            },
        }
    }

    /// Members of a peer group, in this instance and the others.
    fn members(&self, group: u32) -> u32 {
        let own = self.groups.get(group).map_or(0, |p| p.members);
        own.saturating_add(self.others.groups.get(&group).map_or(0, |o| o.members))
    }

    /// Users of the organisation, in this instance and the others.
    fn org_members(&self) -> u32 {
        self.org.members.saturating_add(self.others.org.members)
    }

    /// Who uses `resource`, in this instance and the others (see the
    /// module docs for how owners merge); `None` when neither knows it.
    fn census(&self, resource: u32) -> Option<Census> {
        let own = self.resources.get(resource);
        let Some(o) = self.others.resources.get(resource) else {
            return own.map(Resource::census);
        };
        let mut c = own.map_or(
            Census {
                users: 0,
                user_days: 0,
                owner: NO_USER,
                owner_days: 0,
            },
            Resource::census,
        );
        c.users = c.users.saturating_add(o.users);
        c.user_days = c.user_days.saturating_add(o.user_days);
        if o.owner != NO_USER && (o.owner_days, Reverse(o.owner)) > (c.owner_days, Reverse(c.owner))
        {
            c.owner = o.owner;
            c.owner_days = o.owner_days;
        }
        Some(c)
    }

    /// The name of kind `kind`, or `unseen`'s for [`UNSEEN_KIND`].
    fn kind_name<'a>(&'a self, kind: u32, unseen: Option<&'a str>) -> Option<&'a str> {
        if kind == UNSEEN_KIND {
            unseen
        } else {
            self.kind_names.get(kind as usize).map(String::as_str)
        }
    }

    /// The pool a user's habits are shrunk towards, in one kind: their
    /// peer group when it has other members (in any instance), else the
    /// organisation, with the other instances' counts.
    fn pool_view(&self, group: Option<u32>, kind: u32, name: Option<&str>) -> PoolView {
        let empty = Pool::default();
        let org_other = name.and_then(|n| self.others.org.kinds.get(n));
        let (own, other, org_kind) = match group.filter(|&g| self.members(g) > 1) {
            Some(g) => (
                self.groups.get(g).unwrap_or(&empty),
                self.others.groups.get(&g),
                Some(share::pooled_kind(self.org.kinds.get(kind), org_other).unwrap_or_default()),
            ),
            None => (&self.org, Some(&self.others.org), None),
        };
        let other_kind = other.zip(name).and_then(|(o, n)| o.kinds.get(n));
        PoolView {
            members: own.members.saturating_add(other.map_or(0, |o| o.members)),
            kind: share::pooled_kind(own.kinds.get(kind), other_kind),
            // The organisation stands behind the pool exactly when the
            // pool is a peer group, as for `org_kind`.
            org_new_kind: org_kind.is_some().then(|| {
                share::pooled(&self.org.kinds.new_kind, self.others.org.new_kind.as_ref())
            }),
            org_kind,
            new_kind: share::pooled(&own.kinds.new_kind, other.and_then(|o| o.new_kind.as_ref())),
        }
    }

    /// The share of days owned resources of `kind` are in use at `hour`,
    /// over this instance's and the others' days; ½ for no kind.
    fn kind_share(&self, kind: Option<u32>, hour: usize) -> f64 {
        let Some(k) = kind else {
            return 0.5;
        };
        let own = self.clocks.get(k as usize);
        let other = self
            .kind_names
            .get(k as usize)
            .and_then(|n| self.others.clocks.get(n));
        match (own, other) {
            (None, None) => 0.5,
            (Some(c), None) => c.share(hour),
            (own, Some(o)) => {
                let mut c = own.cloned().unwrap_or_default();
                c.days = c.days.saturating_add(o.days);
                for (m, u) in c.used.iter_mut().zip(&o.used) {
                    *m = m.saturating_add(*u);
                }
                c.share(hour)
            }
        }
    }

    /// This instance's population figures, from its own users only.
    fn share(&self) -> Share {
        Share {
            kinds: self.kind_names.clone(),
            org: self.org.clone(),
            groups: self.groups.iter().map(|(g, p)| (g, p.clone())).collect(),
            resources: self
                .resources
                .iter()
                .filter(|(_, r)| r.users > 0 || r.clock.day != NO_DAY)
                .map(|(id, r)| {
                    let share = ResourceShare {
                        users: r.users,
                        user_days: r.user_days,
                        owner: r.owner,
                        owner_days: r.owner_days,
                        per_group: r.per_group.clone(),
                        clock: r.clock.shared(),
                    };
                    (id, share)
                })
                .collect(),
            clocks: self
                .clocks
                .iter()
                .enumerate()
                .filter(|(_, c)| c.days > 0)
                .map(|(k, c)| (k as u32, c.clone()))
                .collect(),
            managers: self.managers.own().to_vec(),
            late_kinds: self.late_kinds.own(),
            waves: self
                .waves
                .own
                .iter()
                .map(|(r, v)| (*r, v.clone()))
                .collect(),
        }
    }

    /// Count a learned event in its resource's [`Clock`]; a day it closes
    /// joins its kind's hours while the resource is owned. `day` and
    /// `hour` are the event's local day and hour.
    fn tick_clock(&mut self, e: &Event, day: i64, hour: u8) {
        let res = self
            .resources
            .get_or_insert_with(e.resource, Resource::default);
        let Some(span) = res.clock.tick(day, hour) else {
            return;
        };
        let kind = res.kind;
        let owned = self.census(e.resource).is_some_and(|c| c.owned());
        let Some((_, kind)) = kind else {
            return;
        };
        let k = kind as usize;
        if !owned || k >= MAX_KINDS {
            return;
        }
        if self.clocks.len() <= k {
            self.clocks.resize_with(k + 1, KindClock::default);
        }
        self.clocks[k].add(span);
    }

    /// The resource-side time reading of an access by someone other than
    /// an owned resource's owner (see the module docs); `None` for the
    /// owner, a resource nobody owns, or one with fewer than
    /// `learning_days` closed active days. `hour` is the event's local
    /// hour.
    fn dead_hour(&self, e: &Event, hour: u8) -> Option<DeadHour> {
        let mut d = self.hour_reading(e, hour)?;
        let kind = self.resources.get(e.resource).and_then(|r| r.kind);
        d.habit = kind.map_or(0.0, |(_, kind)| self.dead_habit(e.user, kind, d.hour_p));
        d.manager = kind.and_then(|(_, kind)| self.manager_share(e, d.owner, kind, None));
        d.p = d.hour_p.max(d.habit) * d.manager.map_or(1.0, |(q, _)| q);
        Some(d)
    }

    /// `(q, F)` when `owner` is the manager of `e`'s user: the chance that
    /// an access of `kind` to another user's resource is to one's
    /// manager's, and the accesses it rests on ("A manager's resources").
    /// `unseen` names a kind not yet numbered.
    fn manager_share(
        &self,
        e: &Event,
        owner: u32,
        kind: u32,
        unseen: Option<&str>,
    ) -> Option<(f64, u32)> {
        (e.manager == Some(owner)).then(|| self.managers.share(kind, self.kind_name(kind, unseen)))
    }

    /// [`NovelTable::dead_hour`] without the user's habit (`habit` 0, `p`
    /// the hour's chance): what an access teaches the habit.
    fn hour_reading(&self, e: &Event, hour: u8) -> Option<DeadHour> {
        let census = self.census(e.resource)?;
        let (owner, _) = census.ownership(e.user)?;
        let res = self.resources.get(e.resource);
        let theirs = self.others.resources.get(e.resource);
        // The clock of the instance that knows the resource's days best.
        let days = res.map_or(0, |r| r.clock.days);
        let days = theirs.map_or(days, |o| days.max(o.clock_days));
        if days < self.config.learning_days.max(1) {
            return None;
        }
        let hour = hour.min(23);
        let h = usize::from(hour);
        let prior = self.kind_share(res.and_then(|r| r.kind).map(|(_, k)| k), h);
        let used = res.map_or(0, |r| r.clock.used[h]);
        let used = theirs.map_or(used, |o| used.max(o.clock_used[h]));
        let in_use = ((f64::from(used) + CLOCK_PRIOR_DAYS * prior)
            / (f64::from(days) + CLOCK_PRIOR_DAYS))
            .clamp(0.0, 1.0);
        let n = f64::from(census.user_days);
        let other =
            (((n - f64::from(census.owner_days)).max(0.0) + 0.5) / (n + 1.0)).clamp(0.0, 1.0);
        let hour_p = (in_use * other).clamp(0.0, 1.0);
        Some(DeadHour {
            owner,
            hour,
            days,
            used,
            prior,
            in_use,
            other,
            hour_p,
            habit: 0.0,
            manager: None,
            p: hour_p,
        })
    }

    /// The chance that `user`'s next access of `kind` is to another user's
    /// resource at an hour as dead as `hour_p`: the share of their recent
    /// accesses that were to other users' resources with hours, shrunk
    /// towards their pool's as a discovery rate is, times
    /// `min(1, hour_p / typical)`, `typical` the geometric mean `hour_p`
    /// of those accesses, shrunk towards the pool's and the organisation's
    /// as a discovery's rarity is. An administrator whose rounds are other
    /// people's machines at night has a high share and a small typical, so
    /// one more night visit says little of them, and a new administrator
    /// is judged by their team's rounds; a clerk whose team is never on
    /// anyone else's machine at night keeps a typical near 1, and the
    /// product stays below `hour_p`, which then decides alone.
    fn dead_habit(&self, user: u32, kind: u32, hour_p: f64) -> f64 {
        let Some(u) = self.users.get(user) else {
            return 0.0;
        };
        let empty = KindStats::default();
        let own = u.kinds.get(kind).map_or(&empty.dead, |k| &k.dead);
        let pool = self.pool_view(
            u.group,
            kind,
            self.kind_names.get(kind as usize).map(String::as_str),
        );
        let prior = pool.kind.as_ref().map_or(&empty.dead, |k| &k.dead);
        let org = pool.org_kind.as_ref().map(|k| &k.dead);
        let rate = own.rate_with_prior(prior, self.config.prior_accesses);
        let typical = typical_log_rarity(own, prior, org, 0.0);
        (rate * Discovery::relative_rarity(hour_p, typical)).clamp(0.0, 1.0)
    }

    /// Whether a resource-side time score for `user` on `resource` today is
    /// news: the first that day, or higher by [`RESCORE_STEP`] than the
    /// last reported; if so it is remembered as reported.
    fn dead_news(&mut self, user: u32, resource: u32, day: i64, score: f32) -> bool {
        let Some(u) = self.users.get_mut(user) else {
            return false;
        };
        if u.dead_day != day {
            u.dead_day = day;
            u.dead.clear();
        }
        let kept = score.floor().clamp(1.0, 100.0) as u8;
        match u.dead.binary_search_by_key(&resource, |&(r, _)| r) {
            Ok(i) if score < f32::from(u.dead[i].1) + RESCORE_STEP => false,
            Ok(i) => {
                u.dead[i].1 = kept;
                true
            }
            Err(_) if u.dead.len() >= MAX_DEAD_PER_DAY => false,
            Err(i) => {
                u.dead.insert(i, (resource, kept));
                true
            }
        }
    }

    /// Combine a first access of `kind` with chance `p` (alone) at `ms`
    /// with the strongest first access of another kind in the user's
    /// session, and remember it for the next.
    ///
    /// Two first accesses of different kinds within [`SESSION_MS`] (a
    /// logon to a colleague's machine, then a first removable drive) are
    /// two pieces of evidence, which one detector's finding would
    /// otherwise report only as the stronger one. Their chances are
    /// combined with Fisher's method, `P = q · (1 − ln q)` for
    /// `q = p₁ · p₂` (the chance that two independent uniform chances
    /// multiply to `q` or less), which is below both only when both are
    /// small: 0.005 and 0.004 give 2·10⁻⁴ (37 rather than 24), while
    /// 0.005 and 0.5 give 0.02. Accesses of one kind never combine (an
    /// administrator's round of new machines is judged by the discovery
    /// rate, access by access), and what is remembered is each access's
    /// own chance, so combinations do not chain. Returns the combination
    /// when it is stronger than `p` alone.
    fn in_session(&mut self, user: u32, kind: u32, p: f64, ms: i64, learn: bool) -> Option<Paired> {
        let u = self.users.get_mut(user)?;
        let current = |n: &Novelty| ms.saturating_sub(n.ms) <= SESSION_MS && n.ms <= ms;
        let other = u
            .session
            .iter()
            .filter(|n| n.kind != kind && current(n))
            .min_by(|a, b| a.p.total_cmp(&b.p))
            .copied();
        // An event not learned from is combined but remembered by nothing.
        if learn {
            u.session.retain(current);
            remember(&mut u.session, Novelty { kind, p, ms });
        }
        let other = other?;
        let q = (p * other.p).max(f64::MIN_POSITIVE);
        let combined = (q * (1.0 - q.ln())).min(1.0);
        (combined < p).then_some(Paired { p: combined, other })
    }

    /// Score a repeat access by the resource-side time reading alone.
    fn report_dead(
        &mut self,
        symbols: &Symbols,
        e: &Event,
        (day, hour): (i64, u8),
        out: &mut Vec<Finding>,
    ) {
        let Some(d) = self.dead_hour(e, hour) else {
            return;
        };
        let score = score_from_p(d.p);
        if score < self.config.min_score || !self.dead_news(e.user, e.resource, day, score) {
            return;
        }
        let name = symbols.resource(e.resource);
        let mut reason = format!("access to {name}{}", dead_text(symbols, &d));
        if let Some(m) = d.manager {
            reason.push_str(&manager_text(&user_name(symbols, d.owner), m));
        }
        let owner = user_name(symbols, d.owner);
        out.push(with_dead(
            Finding::new(e.seq, score, reason)
                .with("resource", name)
                .with("owner", owner)
                .with("p", d.p),
            &d,
        ));
    }

    fn observe_one(&mut self, symbols: &Symbols, e: &Event, out: &mut Vec<Finding>) {
        let learning = self.learning(e.time_ms, e.learn);
        // Local time once per event: each is a 64-bit division.
        let (day, hour) = (e.local_day(), e.local_hour());
        if e.learn {
            self.tick_clock(e, day, hour);
        }
        if self.users.get(e.user).is_none() {
            // A user with nothing learned is on no active day yet, so
            // there is nothing to score an unlearned event of theirs by.
            if !e.learn {
                return;
            }
            self.org.members = self.org.members.saturating_add(1);
            self.user_ids.push(e.user);
        }
        // Rating the learning period's discoveries folds in only what
        // learned events taught, so an unlearned event may trigger it too,
        // and is then scored as it would be otherwise.
        if !learning && !self.learning_rated {
            self.rate_learning_period();
        }
        if e.learn {
            self.users.get_or_insert_with(e.user, User::default);
            if let Some(g) = e.peer_group {
                self.regroup(e.user, g);
            }
            self.learn_pending(symbols, e.user);
        }
        let Some(user) = self.users.get_mut(e.user) else {
            return;
        };
        let new_day = user.starts_day(day);
        // The active days this event is scored on: an unlearned event's day
        // counts for its score but is not added to the user's history.
        let active_days = user.active_days.saturating_add(u32::from(new_day));
        if e.learn {
            user.unlearned = FirstToday::default();
            if new_day {
                user.active_days = active_days;
                let held = std::mem::take(&mut user.held);
                for h in held {
                    self.learn_first(e.user, &h);
                }
                let Some(user) = self.users.get_mut(e.user) else {
                    return;
                };
                user.last_day = day;
            }
        }
        let Some(user) = self.users.get_mut(e.user) else {
            return;
        };
        // Habits are counted from the user's second active day: on the
        // first, everything is new.
        let counted = active_days > 1;
        if !e.learn && (learning || !counted) {
            // Neither scored nor learned.
            return;
        }
        // Found once: reporting a dead hour leaves `touched` as it is.
        let found = user
            .touched
            .binary_search_by_key(&e.resource, |t| t.resource);
        let known = matches!(found, Ok(i) if user.touched[i].known());
        if known && !learning && counted {
            self.report_dead(symbols, e, (day, hour), out);
        }
        let Some(user) = self.users.get_mut(e.user) else {
            return;
        };
        // `listed`: the user is already counted among the resource's users,
        // from accesses while held, though it is still new to them.
        let (slot, listed) = match found {
            Ok(i) if !user.touched[i].known() => (i, true),
            // A repeat access teaches habits and ownership, and is no
            // finding: an unlearned one has nothing to do.
            Ok(_) if !e.learn => return,
            Ok(i) => {
                let t = &mut user.touched[i];
                if t.day != day {
                    t.day = day;
                    t.days = t.days.saturating_add(1);
                    let days = t.days;
                    let res = self
                        .resources
                        .get_or_insert_with(e.resource, Resource::default);
                    res.add_day(e.user, days);
                    let kind = res.kind;
                    if counted
                        && !learning
                        && let Some((_, kind)) = kind
                        && let Some((owner, _)) =
                            self.census(e.resource).and_then(|c| c.ownership(e.user))
                    {
                        self.managers.count(kind, e.manager == Some(owner));
                    }
                    if counted && let Some((_, kind)) = kind {
                        let dead = if learning {
                            None
                        } else {
                            self.hour_reading(e, hour).map(|d| d.hour_p)
                        };
                        self.count_access(
                            e.user,
                            kind,
                            Access {
                                first: false,
                                new_kind: false,
                                owned: false,
                                dead,
                            },
                        );
                    }
                }
                return;
            }
            Err(_) if user.touched.len() >= MAX_RESOURCES_PER_USER => return,
            Err(i) => (i, false),
        };
        if !e.learn
            && !user
                .unlearned
                .first_today(e.resource, day, MAX_RESOURCES_PER_USER)
        {
            return;
        }
        let (sensitive, kind, unseen_kind) = if e.learn {
            let (sensitive, kind) = self.classify(symbols, e.resource);
            (sensitive, kind, None)
        } else {
            self.peek_class(symbols, e.resource)
        };
        let Some(user) = self.users.get(e.user) else {
            return;
        };
        let group = user.group;
        let own = user.kinds.get(kind);
        let new_kind = own.is_none();
        let census = self.census(e.resource);
        let org_touch = census.map_or(0, |c| c.users);
        let org_others = self.org_members().saturating_sub(1);
        let ownership = census.and_then(|c| c.ownership(e.user));
        let sole = census.is_some_and(|c| c.users == 1);
        let owner_days = census.map_or(0, |c| c.owner_days);
        let resource_days = census.map_or(0, |c| c.user_days);
        let mut peers = self.peers(group, e.resource);
        if listed && peers.group.is_some() {
            // The peers who touched it besides this user.
            peers.touch = peers.touch.saturating_sub(1);
        }
        let a = self.config.pseudocount;
        let p_peer = peers.group.map_or(1.0, |_| {
            (f64::from(peers.touch) + a) / (f64::from(peers.others) + 1.0)
        });
        let p_org = (f64::from(org_touch) + a) / (f64::from(org_others) + 1.0);
        let rarity = (p_peer * p_org).clamp(0.0, 1.0);
        let mut flagged = false;
        // The access's resource-side time reading, for the user's habit.
        let mut dead_p = None;
        // Whether the team taking the resource up explains the access
        // better than the user's own habits: then it is no discovery of
        // theirs ("A team taking a resource up").
        let mut team_explains = false;
        if !learning && counted {
            let pool = self.pool_view(group, kind, self.kind_name(kind, unseen_kind.as_deref()));
            let pool_kind = pool.kind.as_ref();
            let w = self.config.prior_accesses;
            let empty = KindStats::default();
            let (rate, relative, accesses) = if new_kind {
                // A kind the user never used: the chance their next access
                // starts a new kind, and how few of their peers use it.
                let users = f64::from(pool_kind.map_or(0, |k| k.users));
                let others = f64::from(pool.members.saturating_sub(1));
                let share = ((users + a) / (others + 1.0)).min(1.0);
                // A settled user by settled users' rate; a newcomer by
                // every tenure's ("A kind new to a settled user").
                let pool_rate = if active_days > self.config.learning_days {
                    let group = group.filter(|_| pool.org_new_kind.is_some());
                    self.late_kinds.rate(group, w)
                } else if let Some(org) = &pool.org_new_kind {
                    pool.new_kind.rate_toward(org.rate(), w)
                } else {
                    pool.new_kind.rate()
                };
                let rate = user.kinds.new_kind.rate_toward(pool_rate, w);
                (rate, share, user.kinds.new_kind.accesses)
            } else {
                let own = own.unwrap_or(&empty);
                let prior = pool_kind.map_or(&empty.discovery, |k| &k.discovery);
                let rate = own.discovery.rate_with_prior(prior, w);
                let top = Base::of(
                    self.org
                        .kinds
                        .per_kind
                        .iter()
                        .chain(self.others.org.kinds.values()),
                );
                let relative = relative_rarity(rarity, own, pool_kind, pool.org_kind.as_ref(), top);
                (rate, relative, own.discovery.accesses)
            };
            // A resource another user owns: the chance this user's next
            // access is a first one to someone else's resource, times how
            // much more owned this one is than those they usually enter.
            let owned = ownership.map(|(_, p_new)| {
                let own = own.map_or(&empty.owned, |k| &k.owned);
                let prior = pool_kind.map_or(&empty.owned, |k| &k.owned);
                let rate = own.rate_with_prior(prior, w);
                let org = pool.org_kind.as_ref().map(|k| &k.owned);
                let typical = typical_log_rarity(own, prior, org, 0.0);
                (rate, Discovery::relative_rarity(p_new, typical), p_new)
            });
            let factor = if sensitive {
                self.config.sensitive_factor
            } else {
                1.0
            };
            let p_novel = rate * relative;
            // Ownership resting on a few days is a reading of as little
            // weight: its tail counts to the power `d / (d + 1)` for an
            // owner of `d` days on the resource, half its score for one.
            let sure = f64::from(owner_days) / (f64::from(owner_days) + 1.0);
            // The owner is the user's manager: both readings of being on
            // someone else's resource are times the chance that such an
            // access is to one's manager's ("A manager's resources";
            // `dead_hour` applies it to its own).
            let to_manager =
                ownership.and_then(|(o, _)| self.manager_share(e, o, kind, unseen_kind.as_deref()));
            let q = to_manager.map_or(1.0, |(q, _)| q);
            let p_owned = owned.map_or(1.0, |(r, rel, _)| (r * rel).powf(sure) * q);
            let dead = self.dead_hour(e, hour);
            dead_p = dead.map(|d| d.hour_p);
            let p_dead = dead.map_or(1.0, |d| d.p);
            // Peers taking it up since yesterday: the chance that one more
            // of those who had not does today ("A team taking a resource
            // up"); it can only weaken the reading.
            let team = peers.group.and_then(|g| {
                let recent = self
                    .waves
                    .recent(e.resource, g, day)
                    .saturating_sub(u32::from(listed));
                let before = peers.touch.saturating_sub(recent);
                let left = peers.others.saturating_sub(before);
                (recent > 0).then(|| {
                    (
                        recent,
                        left,
                        (f64::from(recent) + a) / (f64::from(left) + 1.0),
                    )
                })
            });
            let p_team = team.map_or(0.0, |(_, _, p)| p);
            let own_reading = p_novel.min(p_owned).min(p_dead);
            team_explains = team.is_some() && p_team >= own_reading;
            // A first access in the user's own named space is learned as
            // any other and never reported ("The user's own named space").
            let alone = if names_user(symbols.resource(e.resource), symbols.user(e.user)) {
                1.0
            } else {
                (own_reading.max(p_team) * factor).clamp(0.0, 1.0)
            };
            let paired = self.in_session(e.user, kind, alone, e.time_ms, e.learn);
            let p = paired.as_ref().map_or(alone, |s| s.p);
            let score = score_from_p(p);
            if score >= self.config.min_score {
                let name = symbols.resource(e.resource);
                let kind_name = self
                    .kind_names
                    .get(kind as usize)
                    .or(unseen_kind.as_ref())
                    .map_or("", String::as_str);
                let peer_text = match peers.group {
                    Some(g) => format!(
                        "{} of {} {} peers",
                        peers.touch,
                        peers.others,
                        symbols.peer_group(g)
                    ),
                    None => "no peer group".to_string(),
                };
                let owner_name = ownership.map(|(o, _)| user_name(symbols, o));
                let mut reason = format!(
                    "first access to {}{name}; {peer_text} and {org_touch} of {org_others} users have touched it",
                    if sensitive { "sensitive " } else { "" }
                );
                if let Some(o) = &owner_name {
                    if sole {
                        reason.push_str(&format!(", only {o} uses it ({owner_days} days)"));
                    } else {
                        reason.push_str(&format!(
                            ", mostly {o} ({owner_days} of {resource_days} user-days)"
                        ));
                    }
                }
                if new_kind {
                    reason.push_str(&format!(
                        "; the user's first {kind_name} after {accesses:.0} recent accesses, starting a new kind on {:.1}% of them",
                        100.0 * rate
                    ));
                } else {
                    reason.push_str(&format!(
                        "; the user's recent {kind_name} accesses are new {:.1}% of the time",
                        100.0 * rate
                    ));
                }
                if let Some((rate, _, _)) = owned {
                    reason.push_str(&format!(
                        "; a first access to another user's resource is {:.1}% of the user's recent accesses",
                        100.0 * rate
                    ));
                }
                if let (Some(m), Some(o)) = (to_manager, &owner_name) {
                    reason.push_str(&manager_text(o, m));
                }
                if let Some((recent, left, p)) = team
                    && team_explains
                {
                    reason.push_str(&format!(
                        "; {recent} of the {left} {} who had not used it took it up since yesterday, so one more is the team taking it up (p {p:.2e})",
                        if left == 1 { "peer" } else { "peers" }
                    ));
                }
                if let Some(d) = dead.filter(|d| score_from_p(d.p) >= self.config.min_score) {
                    reason.push_str(&dead_text(symbols, &d));
                }
                if let Some(s) = &paired {
                    let other = self
                        .kind_names
                        .get(s.other.kind as usize)
                        .map_or("unnamed", String::as_str);
                    reason.push_str(&format!(
                        "; {} min after a first {other} access in the same session (p {:.2e}): the two together p {:.2e} (Fisher), {:.2e} alone",
                        (e.time_ms - s.other.ms).max(0) / 60_000,
                        s.other.p,
                        s.p,
                        alone
                    ));
                }
                // Flags only when set, so that a first access with every
                // reading (owner, hours, session) stays within the host's
                // default of 32 evidence items.
                let mut f = Finding::new(e.seq, score, reason)
                    .with("resource", name)
                    .with("kind", kind_name);
                if new_kind {
                    f = f.with("first_of_kind", 1i64);
                }
                f = f
                    .with("peer_users_touching", peers.touch)
                    .with("peer_size", peers.others)
                    .with("org_users_touching", org_touch)
                    .with("org_users", org_others);
                if sensitive {
                    f = f.with("sensitive", 1i64);
                }
                f = f
                    .with("discovery_rate", rate)
                    .with("recent_accesses", f64::from(accesses))
                    .with("rarity", rarity)
                    .with("relative_rarity", relative)
                    .with("user_active_days", active_days)
                    .with("p", p);
                if let (Some(o), Some((_, relative, p_new))) = (owner_name, owned) {
                    if sole {
                        f = f.with("sole_user", o.clone());
                    }
                    f = f
                        .with("owner", o)
                        .with("owner_days", owner_days)
                        .with("resource_user_days", resource_days)
                        .with("new_user_chance", p_new)
                        .with("owned_access_rate", owned.map_or(0.0, |o| o.0))
                        .with("owned_relative", relative);
                    // Given by `owner_days`; left out for the manager's
                    // share, to stay within the host's evidence limit.
                    if to_manager.is_none() {
                        f = f.with("ownership_weight", sure);
                    }
                    f = f.with("p_owned", p_owned).with("p_novel", p_novel);
                }
                // `with_dead` below gives them when the hours are read.
                if let Some(m) = to_manager
                    && dead.is_none_or(|d| d.manager.is_none())
                {
                    f = with_manager(f, m);
                }
                if let Some(d) = dead {
                    f = with_dead(f, &d);
                    self.dead_news(e.user, e.resource, day, score);
                }
                if let Some(s) = &paired {
                    let other = self
                        .kind_names
                        .get(s.other.kind as usize)
                        .map_or("unnamed", String::as_str);
                    f = f
                        .with("p_alone", alone)
                        .with("session_kind", other)
                        .with("session_p", s.other.p);
                }
                out.push(f);
                flagged = true;
            }
        }
        if !e.learn {
            if !listed {
                self.list_held_touch(e, group, slot, day);
            }
            let pending = self.pending.get_or_insert_with(e.user, Vec::new);
            if pending.len() < PENDING_FIRSTS && pending.iter().all(|p| p.resource != e.resource) {
                pending.push(PendingFirst {
                    resource: e.resource,
                    day,
                    rarity,
                    owned: ownership.map(|(_, p)| p),
                    dead: dead_p,
                });
            }
            return;
        }
        if new_kind {
            self.count_kind_user(e.user, kind);
        }
        // A day on another user's resource, counted reported or not: a
        // visit to one's manager's resource is usually reported, and
        // leaving those out would keep it rare in an organisation where it
        // is not.
        if let Some((owner, _)) = ownership
            && counted
            && !learning
        {
            self.managers.count(kind, e.manager == Some(owner));
        }
        if counted && flagged {
            // A reported first access does not teach the user's habits
            // until their day closes, so a second one in the same episode
            // is judged against the habits before it.
            if let Some(user) = self.users.get_mut(e.user) {
                user.kinds.entry(kind);
                user.held.push(Held {
                    kind,
                    new_kind,
                    rarity,
                    owned: ownership.map(|(_, p)| p),
                    dead: dead_p,
                });
            }
        } else if counted {
            // Rarities are rated from the end of the learning period: before
            // it, who touches what is still being learnt, and everything
            // looks rarer than it is.
            if !new_kind && !learning && !team_explains {
                self.rate_discovery(e.user, kind, rarity);
            }
            if let Some((_, p_new)) = ownership
                && !learning
            {
                self.rate_owned(e.user, kind, p_new);
            }
            self.count_access(
                e.user,
                kind,
                Access {
                    first: !team_explains,
                    new_kind,
                    owned: ownership.is_some(),
                    dead: dead_p,
                },
            );
        } else if new_kind {
            // The first day's kinds are known, not discovered.
            if let Some(user) = self.users.get_mut(e.user) {
                user.kinds.entry(kind);
            }
        }
        let touch = Touch {
            resource: e.resource,
            day,
            learnt: learning && counted && !new_kind,
            days: 1,
        };
        self.learn_touch(e.user, group, touch, (slot, listed));
    }

    /// A user's first learned access to a resource: the resource counts
    /// them among its users (and their peer group among its groups, unless
    /// they were `listed` there while held) and on its user-days, and joins
    /// their resources at `slot` (in place of the listing).
    fn learn_touch(
        &mut self,
        user_id: u32,
        group: Option<u32>,
        touch: Touch,
        (slot, listed): (usize, bool),
    ) {
        let res = self
            .resources
            .get_or_insert_with(touch.resource, Resource::default);
        res.users = res.users.saturating_add(1);
        if let Some(g) = group
            && !listed
        {
            res.add_group(g, 1);
            self.waves.add(touch.resource, g, touch.day);
        }
        let res = self
            .resources
            .get_or_insert_with(touch.resource, Resource::default);
        res.add_day(user_id, 1);
        if let Some(user) = self.users.get_mut(user_id) {
            if listed {
                user.touched[slot] = touch;
            } else {
                user.touched.insert(slot, touch);
            }
        }
    }

    /// A first access the user's habits did not learn when it was made (it
    /// was reported, or the user was held) teaches them now: their
    /// discovery rate of its kind (unless it was their first of the kind),
    /// their rate of entering others' resources when it had an owner, and
    /// their and their pools' access counts.
    fn learn_first(&mut self, user_id: u32, h: &Held) {
        if !h.new_kind {
            self.rate_discovery(user_id, h.kind, h.rarity);
        }
        if let Some(p_new) = h.owned {
            self.rate_owned(user_id, h.kind, p_new);
        }
        self.count_access(
            user_id,
            h.kind,
            Access {
                first: true,
                new_kind: h.new_kind,
                owned: h.owned.is_some(),
                dead: h.dead,
            },
        );
    }

    /// The user is learned again: the first accesses they made while held
    /// are learned, in the order they were made, as learned first accesses
    /// that were not reported would have been (their discovery, ownership
    /// and hour habits, and the resource's users), so the resources are
    /// theirs now, not new again. One they have since learned otherwise is
    /// skipped.
    fn learn_pending(&mut self, symbols: &Symbols, user_id: u32) {
        let pending = match self.pending.get_mut(user_id) {
            Some(p) if !p.is_empty() => std::mem::take(p),
            _ => return,
        };
        for p in pending {
            let Some(user) = self.users.get(user_id) else {
                return;
            };
            let group = user.group;
            let at = match user
                .touched
                .binary_search_by_key(&p.resource, |t| t.resource)
            {
                Ok(i) if !user.touched[i].known() => (i, true),
                Ok(_) => continue,
                Err(_) if user.touched.len() >= MAX_RESOURCES_PER_USER => continue,
                Err(i) => (i, false),
            };
            let (_, kind) = self.classify(symbols, p.resource);
            let new_kind = self
                .users
                .get(user_id)
                .is_some_and(|u| u.kinds.get(kind).is_none());
            if new_kind {
                self.count_kind_user(user_id, kind);
            }
            let first = Held {
                kind,
                new_kind,
                rarity: p.rarity,
                owned: p.owned,
                dead: p.dead,
            };
            self.learn_first(user_id, &first);
            let touch = Touch {
                resource: p.resource,
                day: p.day,
                learnt: false,
                days: 1,
            };
            self.learn_touch(user_id, group, touch, at);
        }
    }

    /// Count a user held out of learning among their peer group's
    /// touchers of a resource they first touched while held, once (a
    /// [`Touch`] of no days): the resource stays new to them, and they are
    /// not among its users or owners, but a resource their whole team takes
    /// up together is judged, for the next of them, by every member who
    /// uses it. Without this the first few to take up a new report alert,
    /// are held, and leave it looking untouched by the team to every
    /// colleague after them.
    fn list_held_touch(&mut self, e: &Event, group: Option<u32>, slot: usize, day: i64) {
        let Some(g) = group else {
            return;
        };
        self.resources
            .get_or_insert_with(e.resource, Resource::default)
            .add_group(g, 1);
        self.waves.add(e.resource, g, day);
        if let Some(user) = self.users.get_mut(e.user) {
            user.touched.insert(
                slot,
                Touch {
                    resource: e.resource,
                    day,
                    learnt: false,
                    days: 0,
                },
            );
        }
    }
}

/// Keep `n` as its kind's entry when it is the kind's strongest (or the
/// kind is new and there is room).
fn remember(session: &mut Vec<Novelty>, n: Novelty) {
    match session.iter().position(|m| m.kind == n.kind) {
        Some(i) if n.p <= session[i].p => session[i] = n,
        Some(_) => {}
        None if session.len() < SESSION_KINDS => session.push(n),
        None => {}
    }
}

/// A first access combined with one of another kind in the same session.
struct Paired {
    /// The combined chance.
    p: f64,
    /// The access it was combined with.
    other: Novelty,
}

/// The resource-side time reading in words, appended to a reason.
/// A user's name, or `user #id` for one whose symbol never came.
fn user_name(symbols: &Symbols, id: u32) -> String {
    match symbols.user(id) {
        "" => format!("user #{id}"),
        n => n.to_string(),
    }
}

fn dead_text(symbols: &Symbols, d: &DeadHour) -> String {
    let owner = user_name(symbols, d.owner);
    let mut text = format!(
        "; {owner} owns it, and it was in use at {:02}:00 local on {} of its {} days (resources of its kind on {:.1}% of theirs): in use then {:.2}% of days, a user other than {owner} on {:.1}% of its user-days",
        d.hour,
        d.used,
        d.days,
        100.0 * d.prior,
        100.0 * d.in_use,
        100.0 * d.other,
    );
    if d.habit > d.hour_p {
        text.push_str(&format!(
            " (p {:.2e}), but the user is on other users' resources at hours like this often enough that such an access has chance {:.2e} for them",
            d.hour_p, d.habit
        ));
    }
    text
}

/// The reason's words for an owner who is the user's manager, with `q`
/// and the accesses `F` it rests on.
fn manager_text(owner: &str, (q, accesses): (f64, u32)) -> String {
    format!(
        "; {owner} is the user's manager, and {:.2}% of the organisation's {accesses} days on another user's resource of the kind were on the user's manager's",
        100.0 * q
    )
}

/// `manager_share` (`q`) as evidence; the reason gives the days it rests
/// on.
fn with_manager(f: Finding, (q, _): (f64, u32)) -> Finding {
    f.with("manager_share", q)
}

/// The resource-side time reading's evidence (the owner is named by the
/// caller).
/// `in_use_chance` is `p_dead_hour / not_owner_chance`, and
/// `p_dead_habit` is given when it decides.
fn with_dead(f: Finding, d: &DeadHour) -> Finding {
    let f = f
        .with("local_hour", u32::from(d.hour))
        .with("resource_days", d.days)
        .with("resource_days_in_use_at_hour", u32::from(d.used))
        .with("kind_in_use_share_at_hour", d.prior)
        .with("not_owner_chance", d.other)
        .with("p_dead_hour", d.hour_p);
    let f = if d.habit > d.hour_p {
        f.with("p_dead_habit", d.habit)
    } else {
        f
    };
    match d.manager {
        Some(m) => with_manager(f, m),
        None => f,
    }
}

impl Detector for NovelTable {
    fn info() -> Info {
        Info {
            name: "novel-table",
            version: env!("CARGO_PKG_VERSION"),
            description: "a user's first access to a resource their peer group and organisation rarely or never touch",
            config: vec![
                ConfigKey {
                    name: "learning_days",
                    default: "7",
                    description: "days of event time, from the first event seen, that only learn who touches what (no findings)",
                },
                ConfigKey {
                    name: "min_score",
                    default: "20.0",
                    description: "findings scoring below this (0-100) are dropped as noise",
                },
                ConfigKey {
                    name: "sensitive",
                    default: "[\"*.customers\", \"*.contacts\", \"*.payment_methods\", \"hr.*\", \"auth.*\"]",
                    description: "globs (* any run of characters, ? one character) naming sensitive resources",
                },
                ConfigKey {
                    name: "sensitive_factor",
                    default: "0.1",
                    description: "multiplies the probability of a first access to a sensitive resource (0.1 adds 10 points)",
                },
                ConfigKey {
                    name: "kinds",
                    default: "[]",
                    description: "[glob, kind] pairs, e.g. [[\"PC-*\", \"workstation\"], [\"*.customers\", \"table\"]]; a resource's kind is that of the first glob it matches, else its shape (dotted names are tables; otherwise the name with digit runs as #, so PC-1234 is PC-#); discovery rates are kept per kind; [resources] kinds in the host's config sets it for every detector that keeps kinds",
                },
                ConfigKey {
                    name: "prior_accesses",
                    default: "30.0",
                    description: "how many of a user's own recent accesses (user x resource x day) the peer group's discovery rate is worth",
                },
                ConfigKey {
                    name: "pseudocount",
                    default: "0.2",
                    description: "what nobody having touched a resource counts as in the peer and organisation shares; smaller makes never-touched resources rarer",
                },
            ],
        }
    }

    fn configure(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        match key {
            "learning_days" => self.config.learning_days = config::parse(key, value)?,
            "min_score" => {
                self.config.min_score = config::parse_in_range(key, value, 0.0, 100.0)? as f32
            }
            // A changed pattern list makes the cached matches stale; the
            // same list (a restored state configured again) keeps them.
            "sensitive" => {
                let sensitive: Vec<String> = config::parse(key, value)?;
                if sensitive != self.config.sensitive {
                    self.config.sensitive = sensitive;
                    self.config_generation = self.config_generation.wrapping_add(1);
                }
            }
            "sensitive_factor" => {
                self.config.sensitive_factor = config::parse_in_range(key, value, 1e-6, 1.0)?
            }
            "pseudocount" => {
                self.config.pseudocount = config::parse_in_range(key, value, 1e-3, 10.0)?
            }
            "kinds" => {
                let kinds = config::parse(key, value)?;
                if kinds != self.config.kinds {
                    self.config.kinds = kinds;
                    self.config_generation = self.config_generation.wrapping_add(1);
                }
            }
            "prior_accesses" => {
                self.config.prior_accesses = config::parse_in_range(key, value, 0.0, 1e6)?
            }
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        Ok(())
    }

    fn observe(&mut self, symbols: &Symbols, events: &[Event], out: &mut Vec<Finding>) {
        for e in events {
            self.observe_one(symbols, e, out);
        }
    }

    /// 0.2.0 snapshots carry over (`upgrade`'s module docs).
    fn upgrade(version: Option<&str>, state: &[u8]) -> Option<(Symbols, Self)> {
        upgrade::upgrade(version, state)
    }

    fn population(&self) -> Vec<u8> {
        ueba_sdk::population::encode(&self.share())
    }

    fn absorb(&mut self, others: &[&[u8]]) -> Result<(), String> {
        let shares = share::decode_all(others)?;
        // Everything is summed before anything is replaced: a share
        // refused leaves the state as it was.
        let others = Others::sum(&shares)?;
        let managers = share::manager_sum(&shares)?;
        let late = share::late_sum(&shares)?;
        self.managers.others = managers;
        self.waves.others = share::wave_sum(&shares);
        (self.late_kinds.others_org, self.late_kinds.others_groups) = late;
        self.others = others;
        Ok(())
    }
}

ueba_sdk::export_detector!(NovelTable);

/// Whether `resource` names `user` as one of its path segments (split at
/// `/` and `\\`), by the whole name, its part before `@` or its part after
/// `\\`, compared without case, with at least [`MIN_NAME_CHARS`]
/// characters: the user's own named space ("The user's own named space").
pub fn names_user(resource: &str, user: &str) -> bool {
    let local = user.split('@').next().unwrap_or(user);
    let bare = local.rsplit('\\').next().unwrap_or(local);
    let names: Vec<&str> = [user, local, bare]
        .into_iter()
        .filter(|n| n.chars().count() >= MIN_NAME_CHARS)
        .collect();
    !names.is_empty()
        && resource
            .split(['/', '\\'])
            .any(|seg| names.iter().any(|n| seg.eq_ignore_ascii_case(n)))
}

#[cfg(test)]
mod tests;
