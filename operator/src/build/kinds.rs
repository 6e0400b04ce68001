//! The kinds of child objects and where their API lives.

use k8s_openapi::api::{apps, autoscaling, core, networking, policy, rbac};
use kube::core::{ApiResource, GroupVersionKind};

/// Kind of a child object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChildKind {
    /// core/v1 Namespace.
    Namespace,
    /// core/v1 ResourceQuota.
    ResourceQuota,
    /// core/v1 LimitRange.
    LimitRange,
    /// networking.k8s.io/v1 NetworkPolicy.
    NetworkPolicy,
    /// core/v1 ServiceAccount.
    ServiceAccount,
    /// rbac.authorization.k8s.io/v1 Role.
    Role,
    /// rbac.authorization.k8s.io/v1 RoleBinding.
    RoleBinding,
    /// core/v1 Secret.
    Secret,
    /// core/v1 ConfigMap.
    ConfigMap,
    /// apps/v1 Deployment.
    Deployment,
    /// core/v1 Service.
    Service,
    /// policy/v1 PodDisruptionBudget.
    PodDisruptionBudget,
    /// networking.k8s.io/v1 Ingress.
    Ingress,
    /// autoscaling/v2 HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
    /// keda.sh/v1alpha1 ScaledObject.
    ScaledObject,
}

impl ChildKind {
    /// Every kind, in apply order. All are read on every reconcile whichever autoscaler this
    /// install uses, so a switch finds the old one; `ScaledObject` is served only where KEDA is
    /// installed (elsewhere its list is a 404, read as empty).
    pub const ALL: [ChildKind; 15] = [
        Self::Namespace,
        Self::ResourceQuota,
        Self::LimitRange,
        Self::NetworkPolicy,
        Self::ServiceAccount,
        Self::Role,
        Self::RoleBinding,
        Self::Secret,
        Self::ConfigMap,
        Self::Deployment,
        Self::Service,
        Self::PodDisruptionBudget,
        Self::Ingress,
        Self::HorizontalPodAutoscaler,
        Self::ScaledObject,
    ];

    /// Group, version, kind and plural of the API.
    pub fn api_resource(self) -> ApiResource {
        match self {
            Self::Namespace => ApiResource::erase::<core::v1::Namespace>(&()),
            Self::ResourceQuota => ApiResource::erase::<core::v1::ResourceQuota>(&()),
            Self::LimitRange => ApiResource::erase::<core::v1::LimitRange>(&()),
            Self::NetworkPolicy => ApiResource::erase::<networking::v1::NetworkPolicy>(&()),
            Self::ServiceAccount => ApiResource::erase::<core::v1::ServiceAccount>(&()),
            Self::Role => ApiResource::erase::<rbac::v1::Role>(&()),
            Self::RoleBinding => ApiResource::erase::<rbac::v1::RoleBinding>(&()),
            Self::Secret => ApiResource::erase::<core::v1::Secret>(&()),
            Self::ConfigMap => ApiResource::erase::<core::v1::ConfigMap>(&()),
            Self::Deployment => ApiResource::erase::<apps::v1::Deployment>(&()),
            Self::Service => ApiResource::erase::<core::v1::Service>(&()),
            Self::PodDisruptionBudget => ApiResource::erase::<policy::v1::PodDisruptionBudget>(&()),
            Self::Ingress => ApiResource::erase::<networking::v1::Ingress>(&()),
            Self::HorizontalPodAutoscaler => {
                ApiResource::erase::<autoscaling::v2::HorizontalPodAutoscaler>(&())
            }
            Self::ScaledObject => ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("keda.sh", "v1alpha1", "ScaledObject"),
                "scaledobjects",
            ),
        }
    }

    /// True for everything but the Namespace.
    pub fn namespaced(self) -> bool {
        self != Self::Namespace
    }
}
