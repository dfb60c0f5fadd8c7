"""scikit-learn's own estimator checks on our estimators.

To add an estimator: append an instance to ``ESTIMATORS`` and, if some checks
cannot apply to it, an entry ``EXPECTED_FAILURES[EstimatorClass] = {check_name:
reason}`` whose reasons are true sentences about the estimator. Expected failures
run in strict xfail mode: a check that starts passing fails the suite, so the
entry gets removed.

Estimators whose tags say they accept no 2-D array (``input_tags.two_d_array=False``,
e.g. steps that consume complex spectrograms) would get no checks at all from
``parametrize_with_checks`` (scikit-learn skips them with a ``SkipTestWarning``), so
they are not passed to it; ``test_data_free_api_checks`` runs on them the checks that
need no data. Their behaviour on real inputs is tested in their own test modules.
"""

import pytest
from sklearn.utils import get_tags
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_vpnn.separator import DNNSeparator, VPNNSeparator
from sklearn_vpnn.spectral import STFT, InverseSTFT

_NO_N_FEATURES = (
    "STFT is stateless and accepts tracks of any length: the second axis of a 2-D input "
    "is time (samples of mono tracks), not a fixed set of features, so there is no "
    "n_features_in_ to record at fit or to enforce at transform."
)

#: {estimator class: {check name: why it cannot apply}}
EXPECTED_FAILURES = {
    STFT: {
        "check_n_features_in": _NO_N_FEATURES,
        "check_n_features_in_after_fitting": _NO_N_FEATURES,
    },
    # InverseSTFT consumes complex (n_tracks, [n_sources,] n_channels, n_bins, n_frames)
    # spectrograms, not real 2-D feature matrices; its tags say so, and scikit-learn then
    # runs no data checks on it (its round trips are tested in test_spectral.py).
    InverseSTFT: {},
    # The separators fit on the Spectrogram made by STFT plus the source *waveforms*
    # (n_tracks, n_sources, n_channels, n_samples), never on a real 2-D feature matrix;
    # their tags say so (two_d_array=False), so scikit-learn's data checks do not run on
    # them. Their fit/transform, clone, persistence, determinism and bad-input behaviour
    # are tested in test_separator.py.
    VPNNSeparator: {},
    DNNSeparator: {},
}

#: Instances to check (other modules' estimators are appended by their authors).
ESTIMATORS = [
    STFT(),
    STFT(n_fft=64, hop_length=16, window="hamming", center=False),
    InverseSTFT(),
    VPNNSeparator(),
    VPNNSeparator(mapping="color"),
    VPNNSeparator(band_radius=None),
    VPNNSeparator(hidden_units=None, band_join="outputs"),
    DNNSeparator(),
]

#: Checks that need no input data, run on estimators that take no 2-D arrays.
DATA_FREE_CHECKS = [
    ec.check_estimator_cloneable,
    ec.check_estimator_tags_renamed,
    ec.check_valid_tag_types,
    ec.check_estimator_repr,
    ec.check_no_attributes_set_in_init,
    ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_mixin_order,
    ec.check_parameters_default_constructible,
    ec.check_get_params_invariance,
    ec.check_set_params,
]


def _expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator), {})


def test_expected_failures_have_reasons():
    for cls, failures in EXPECTED_FAILURES.items():
        for check, reason in failures.items():
            assert check.startswith("check_"), (cls, check)
            assert isinstance(reason, str) and len(reason) > 20, (cls, check)


_TAKES_2D = [est for est in ESTIMATORS if get_tags(est).input_tags.two_d_array]
_NO_2D = [est for est in ESTIMATORS if not get_tags(est).input_tags.two_d_array]


@parametrize_with_checks(
    _TAKES_2D, expected_failed_checks=_expected_failed_checks, xfail_strict=True
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)



@pytest.mark.parametrize(
    "estimator", _NO_2D, ids=[type(est).__name__ for est in _NO_2D]
)
@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda c: c.__name__)
def test_data_free_api_checks(estimator, check):
    reason = _expected_failed_checks(estimator).get(check.__name__)
    if reason is not None:
        pytest.xfail(reason)
    check(type(estimator).__name__, estimator)
