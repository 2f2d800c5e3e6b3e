//! Habitual places: the networks a user has used each resource from (see
//! the crate docs, "Habitual places").

use serde::{Deserialize, Serialize};

/// Networks remembered per resource and user; a resource used from more
/// has no habitual place and is no longer judged.
pub(crate) const PLACES_PER_RESOURCE: usize = 4;

/// Where one user has used one resource from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Place {
    resource: u32,
    /// Subnet indices, sorted, with the local day of the latest use.
    subnets: Vec<(u32, i64)>,
    /// Used from more than [`PLACES_PER_RESOURCE`] subnets.
    roaming: bool,
}

/// What one use of a resource from a subnet is to the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Use {
    /// The user has not used the resource before (that is `novel-table`'s
    /// to judge), or has used too many resources to track another.
    NewResource,
    /// The resource has no habitual place.
    Roaming,
    /// From a subnet the resource was used from before; `today` when
    /// already so on this local day.
    Known {
        /// Already used from there on this day.
        today: bool,
    },
    /// A known resource from a subnet it was never used from.
    NewPlace,
}

/// One user's places, sorted by resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Places {
    list: Vec<Place>,
}

impl Places {
    /// What using `resource` from `subnet` on `day` is, changing nothing;
    /// `subnet` is `None` for a network nobody has used.
    pub fn classify(&self, resource: u32, subnet: Option<u32>, day: i64) -> Use {
        let Ok(i) = self.list.binary_search_by_key(&resource, |p| p.resource) else {
            return Use::NewResource;
        };
        let place = &self.list[i];
        if place.roaming {
            return Use::Roaming;
        }
        match subnet.map(|s| place.subnets.binary_search_by_key(&s, |&(s, _)| s)) {
            Some(Ok(j)) => Use::Known {
                today: place.subnets[j].1 == day,
            },
            _ => Use::NewPlace,
        }
    }

    /// Learn a use of `resource` from `subnet` on `day`. A new resource is
    /// added only while fewer than `max_resources` are tracked.
    pub fn learn(&mut self, resource: u32, subnet: u32, day: i64, max_resources: usize) {
        let i = match self.list.binary_search_by_key(&resource, |p| p.resource) {
            Ok(i) => i,
            Err(_) if self.list.len() >= max_resources => return,
            Err(i) => {
                self.list.insert(
                    i,
                    Place {
                        resource,
                        subnets: Vec::new(),
                        roaming: false,
                    },
                );
                i
            }
        };
        let place = &mut self.list[i];
        if place.roaming {
            return;
        }
        match place.subnets.binary_search_by_key(&subnet, |&(s, _)| s) {
            Ok(j) => place.subnets[j].1 = day,
            Err(_) if place.subnets.len() >= PLACES_PER_RESOURCE => {
                place.roaming = true;
                place.subnets = Vec::new();
            }
            Err(j) => place.subnets.insert(j, (subnet, day)),
        }
    }

    /// The subnets `resource` was used from (empty when roaming or new).
    pub fn of(&self, resource: u32) -> impl Iterator<Item = u32> + '_ {
        self.list
            .binary_search_by_key(&resource, |p| p.resource)
            .ok()
            .into_iter()
            .flat_map(|i| self.list[i].subnets.iter().map(|&(s, _)| s))
    }

    /// Resources tracked.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.list.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_is_placed_then_known_then_roaming() {
        let mut p = Places::default();
        assert_eq!(p.classify(7, Some(1), 0), Use::NewResource);
        p.learn(7, 1, 0, 8);
        assert_eq!(p.classify(7, Some(1), 0), Use::Known { today: true });
        assert_eq!(p.classify(7, Some(1), 1), Use::Known { today: false });
        assert_eq!(p.classify(7, Some(2), 1), Use::NewPlace);
        assert_eq!(p.classify(7, None, 1), Use::NewPlace);
        for s in 2..=PLACES_PER_RESOURCE as u32 + 1 {
            p.learn(7, s, 1, 8);
        }
        assert_eq!(p.classify(7, Some(99), 2), Use::Roaming);
        assert_eq!(p.of(7).count(), 0);
    }

    #[test]
    fn resources_past_the_cap_are_not_tracked() {
        let mut p = Places::default();
        p.learn(1, 1, 0, 1);
        p.learn(2, 1, 0, 1);
        assert_eq!(p.len(), 1);
        assert_eq!(p.classify(2, Some(1), 0), Use::NewResource);
    }
}
