"""Mutation testing of the Python layer (python/logitkit) with mutmut; docs/testing.md explains it.

    python tests/mutation.py [--sample N] [--seed S] [--module GLOB] [--jobs J] [--keep DIR]

mutmut changes one thing at a time in python/logitkit (a comparison flipped, a constant changed, an
argument dropped, ...) and runs the tests that reach the changed function; a change that no test
notices "survives". This script

1. stages a copy of the package as src/logitkit (mutmut finds packages under ./ or src/ only),
   with the installed build's compiled extension beside it, and a copy of tests/;
2. writes mutmut's configuration there: the test files below (the ones that exercise the Python
   layer; the kernel, ISA and build tests do not, and would only make each mutant slower);
3. runs `mutmut run` on every mutant (the default: about 11,000, hours on 2 cores), on one module
   (--module 'logitkit._calibration*'), or on a seeded random sample (--sample 600);
4. prints the score (killed / all mutants run; timeouts count as killed, mutmut stops a mutant that
   runs past its time limit; a mutant no selected test reaches counts as a survivor) per module,
   and writes the survivors' diffs to <staging>/survivors.txt.

Needs the package installed (pip install .[test]) and mutmut (pip install .[mutation]). Not part of
the test suite or CI: a run is minutes to hours, and its number goes into docs/testing.md by hand.
"""

from __future__ import annotations

import argparse
import collections
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent

# The tests that exercise python/logitkit: its verbs, options, validation and messages.
TESTS = [
    "test_entry_points.py",
    "test_multiclass.py",
    "test_multilabel.py",
    "test_calibration.py",
    "test_errors.py",
    "test_loss_errors.py",
    "test_diagnostics.py",
    "test_top_k.py",
    "test_sample.py",
    "test_penalties.py",
    "test_divergence.py",
    "test_binary_divergence.py",
    "test_distillation.py",
    "test_dtypes.py",
    "test_layouts.py",
    "test_loss_layouts.py",
    "test_loss_temperature.py",
    "test_grad_hess_boosting.py",
    "test_special_values.py",
    "test_loss_special_values.py",
    "test_driver.py",
    "test_dask.py",
    "test_demo.py",
    "test_argument_names.py",
    "test_api_calls.py",
    "test_temperature_bounds.py",
    "test_properties.py",
    # the in-process halves of tests whose main check runs a subprocess (which mutmut cannot see)
    "test_threads.py::test_environment_variable_read_in_this_process",
    "test_cpp_package.py::test_cmake_dir_of_an_installation_without_the_package",
]

# Functions that run when the package is imported (the closures that build the public functions,
# the check of __all__ against the kernel list): mutmut switches a mutant on in a process that
# imported the package already, so a mutant inside them never runs under mutmut. Their survivors
# are run again here, each in a fresh process with the mutant switched on before the import,
# against these tests.
IMPORT_TIME = (
    "logitkit._functional.x__row_function__",
    "logitkit._functional.x__check_against_the_kernel_list__",
)
IMPORT_TIME_TESTS = [
    "test_entry_points.py",
    "test_errors.py",
    "test_layouts.py",
    "test_special_values.py",
    "test_multiclass.py",
]

# Mutants that a test outside mutmut's reach kills: the DESELECT tests (warnings that name the
# user's line), checked by hand with the mutant planted in a copy of the package. Counted as killed.
KILLED_OUTSIDE = {
    "logitkit._validation.x_caller_stacklevel__mutmut_3": (
        "frame = sys._getframe(2)",
        "the DESELECT tests: the warnings then name the wrong line",
    ),
    "logitkit._validation.x_caller_stacklevel__mutmut_5": (
        "level = 2",
        "the DESELECT tests: the warnings then name the wrong line",
    ),
    "logitkit._validation.x_caller_stacklevel__mutmut_7": (
        "while frame is None and frame",
        "the DESELECT tests: the warnings then name the wrong line",
    ),
    "logitkit._calibration.x_warn_at_bounds__mutmut_49": (
        "stacklevel=caller_stacklevel(),",
        "test_diagnostics.py::test_calibration_warning_points_at_the_caller",
    ),
    "logitkit._validation.x_caller_stacklevel__mutmut_9": (
        "frame = None",
        (
            "test_diagnostics.py::test_probabilities_warning_points_at_the_caller (and the other DESELECT "
            "tests): the warning then names a line inside the package"
        ),
    ),
    "logitkit._multi.x_warn_if_probabilities__mutmut_61": (
        "if (not multilabel) or True",
        "test_multilabel.py::test_probabilities_passed_as_logits_warn (the multi-label message)",
    ),
}

# Mutants that change no observable behaviour, found by reading each survivor: excluded from the
# score by name, each with the fragment of its mutated line (an entry whose mutant no longer has it
# is stale: the function changed and mutmut renumbered its mutants; the survivor then counts) and
# the reason it is equivalent.
EQUIVALENT = {
    "logitkit._calibration.x_platt_newton__mutmut_1": (
        "max_iter: int = 101",
        "a default no caller uses: the one caller passes max_iter",
    ),
    "logitkit._dask.x__denominator__mutmut_27": (
        'kw.get("ignore_index", None)',
        "kw is the locals() of a function with an ignore_index parameter: the key is always there",
    ),
    "logitkit._dask.x_map_rows__mutmut_65": (
        "dtype=None, chunks=chunks, meta=np.empty((0,) * nd, object)",
        "with meta= given, dask takes the dtype from meta",
    ),
    "logitkit._dask.x_loss__mutmut_607": (
        "dtype=None, chunks=per_chunks, meta=",
        "with meta= given, dask takes the dtype from meta",
    ),
    "logitkit._calibration.x_solve_log_temperature__mutmut_22": (
        "direction = -2.0 if f0 > 0",
        (
            "the bracketing walk towards smaller T starts with a step twice as long: the same root is "
            "bracketed, then solved to the same tolerance"
        ),
    ),
    "logitkit._divergence.x__binary_kl__mutmut_19": (
        "if x.dtype == y.dtype:",
        (
            "the binary KL kernel works in double for every input dtype and the result is cast back to "
            "the inputs' dtype; only the mean's factor 1/N is then rounded to double, not float32, a "
            "rounding the bound counts"
        ),
    ),
    "logitkit._divergence.x__kl__mutmut_17": (
        "rows = x.size / C",
        "C divides the size: the float quotient is the same number, and it is used as a float",
    ),
    "logitkit._divergence.x__reduce__mutmut_13": (
        "astype(dt, copy=None)",
        "astype reads copy as a truth value: None and False both mean no copy when none is needed",
    ),
    "logitkit._penalties.x__history__mutmut_56": (
        "astype(np.int64, copy=None)",
        "astype reads copy as a truth value: None and False both mean no copy when none is needed",
    ),
    "logitkit._functional.x__multi_axis__mutmut_24": (
        "xr, -1, None, mask, t, None)",
        (
            "reduce only chooses the keepdims handling, which this call (one axis of length 1, no "
            "keepdims) never asks for"
        ),
    ),
    "logitkit._functional.x__pair__mutmut_58": (
        "y.astype(None)",
        "astype(None) is astype(float64)",
    ),
    "logitkit._validation.x_row_sum_error__mutmut_4": (
        "argument=None,",
        "without argument=, InvalidTargetError reads the name from the message's start: the same",
    ),
    "logitkit.losses.x__cross_entropy__mutmut_172": (
        "tgt = tgt.astype(None)",
        (
            "bfloat16 values are exact in float64 as in float32, and the soft target is cast to the "
            "logits' dtype after"
        ),
    ),
    "logitkit.multilabel.x__cuts__mutmut_58": (
        "cuts = np.empty(C, None)",
        (
            "each cut is a value of the logits' dtype (logit_cut): held exactly in float64, it compares "
            "with the logits as it does in their dtype"
        ),
    ),
    "logitkit.multilabel.x_entropy__mutmut_92": (
        "np.dtype(None)",
        "np.dtype(None) is float64",
    ),
    "logitkit._penalties.x__same_memory__mutmut_3": (
        "a.shape != b.shape",
        (
            "out has x's shape (checked before): the answer only decides whether x is copied onto the "
            "same memory, which changes nothing"
        ),
    ),
    "logitkit._penalties.x__bias_dict__mutmut_34": (
        "np.asarray(tokens, )",
        "Python ints become int64 by default (NumPy 2, every platform)",
    ),
    "logitkit._dask.x_loss__mutmut_197": ("ok = None", "ok is only tested for truth"),
    "logitkit._dask.x_loss__mutmut_44": (
        "_zeros((1,), x.dtype)",
        "the probe exists to raise the dtype error, which one element raises as zero do",
    ),
    "logitkit._dask.x_loss__mutmut_277": (
        'kw["WEIGHT"] = np.asarray',
        (
            "the class weight then stays a Dask array; each block's NumPy call reads it as the same "
            "values"
        ),
    ),
    "logitkit._divergence.x__distillation__mutmut_109": (
        "kl_w = kl_w / rows if rows else 1.0",
        "rows is 0 only for an empty batch, where the weight scales nothing",
    ),
    "logitkit._divergence.x__distillation__mutmut_149": (
        '_reduce(per_row, "sum", None, vdt)',
        "the denominator is read by a mean only",
    ),
    "logitkit._divergence.x__distillation__mutmut_155": (
        '_reduce(per_row, "XXsumXX", 1, vdt)',
        "an unknown reduction takes the mean branch, whose denominator here is 1: the sum",
    ),
    "logitkit._divergence.x__distillation__mutmut_30": (
        "(label_smoothing == 0.0) and False",
        "the check of a smoothing of 0 returns 0",
    ),
    "logitkit._functional.x__where_mask__mutmut_7": (
        '(hasattr(where, "__array_ufunc__")) and False',
        "a lazy mask is then read as NumPy values: the same mask",
    ),
    "logitkit._multi.x_per_class__mutmut_67": (
        "(a.ndim == 0) and False",
        "a 0-d array instead of a float: the callers take the per-class path, same values",
    ),
    "logitkit._sample.x__fast_sample__mutmut_68": (
        "0 < p < 1 and 0 <= m <= 1",
        "top_p = 1 then takes the general path, which draws the same tokens from the same uniforms",
    ),
    "logitkit.losses.x__bce__mutmut_115": (
        "type(None) is np.ndarray",
        "an ndarray target read through np.asarray is the same array",
    ),
    "logitkit.losses.x__cross_entropy__mutmut_3": (
        "            None,",
        "the small-call path declines and the general path gives the same bits (a fast path)",
    ),
    "logitkit.losses.x_grad_hess__mutmut_8": (
        "type(None) is not np.ndarray and _dask.is_dask",
        "the type test only skips is_dask for plain arrays (a fast path)",
    ),
    "logitkit.losses.x_grad_hess__mutmut_365": (
        "if temp != 2.0:",
        (
            "(x - max)/T and x/T - max/T differ only by roundings within the bound, and at T = 2 "
            "nothing overflows"
        ),
    ),
    "logitkit.multilabel.x__distillation__mutmut_47": (
        '"TEACHER_LOGITS"',
        "unreachable message: the teacher's dtype is checked under its name before",
    ),
    "logitkit.multilabel.x_brier_score__mutmut_39": (
        "y >= 1.5",
        "(1 - y) - q and p - y are the same number (q = 1 - p) up to roundings within the bound",
    ),
    "logitkit._penalties.x__same_memory__mutmut_11": (
        'b.__array_interface__["data"][1]',
        (
            "when it answers no, out (the same memory as x) gets x copied onto itself, which changes "
            "nothing"
        ),
    ),
    "logitkit.losses.x__bce_affine__mutmut_10": (
        "(type(None) is float and bias == 0.0)",
        (
            "T = 1 and b = 0 then take the affine path: x/1 + 0 is x (a -0.0 becomes +0.0, where the "
            "loss and gradient are the same)"
        ),
    ),
    "logitkit.losses.x__cross_entropy__mutmut_117": (
        "(type(axis) is int and axis == -1) and False",
        "the general axis rule gives the same ndim - 1 for -1 (a fast path)",
    ),
    "logitkit.losses.x__cross_entropy__mutmut_256": (
        "wt = np.zeros(item_shape, )",
        "np.zeros's default dtype is float64",
    ),
    "logitkit.losses.x__cross_entropy__mutmut_48": (
        '{"out": out} if (want_grad) or True',
        "without a gradient out is None, and _dask.loss drops an out that is None",
    ),
    "logitkit.losses.x__hard_target__mutmut_39": (
        "0 <= ignore_index < C or (target == ii).any()",
        (
            "on this path every label is in [0, C): one equal to ii exists only when ii is in [0, C), "
            "so the or adds no case"
        ),
    ),
    "logitkit.losses.x__nll__mutmut_95": (
        "np.where(None, 0.0, smooth)",
        "the outer np.where already puts 0 at the ignored items",
    ),
    "logitkit.losses.x__soft_target__mutmut_62": (
        ">= tol",
        (
            "|sum - 1| is a multiple of the dtype's ulp at 1; the tolerance is sqrt(C) times a power "
            "of ten rounded to double, which would need its low 20 (float32: 49) mantissa bits zero "
            "to be such a multiple: a sum exactly at it is not seen"
        ),
    ),
    "logitkit.losses.x_explain_target_shape__mutmut_12": (
        '"XXiubXX"',
        "a dtype's kind is one letter; no kind is 'X'",
    ),
    "logitkit.losses.x_explain_target_shape__mutmut_20": (
        "np.sum(t, axis=ax, )",
        "NumPy sums small integer types in the platform integer: the same counts of 0/1 entries",
    ),
    "logitkit._divergence.x__binary_kl__mutmut_51": (
        "if denom else 2.0",
        "denom is 0 only for an empty input, where the factor scales nothing",
    ),
    "logitkit._divergence.x__distillation__mutmut_49": (
        "counted = 1",
        "without a target alpha is 1 (checked before): the cross-entropy weight is 0 either way",
    ),
    "logitkit._divergence.x__distillation__mutmut_59": (
        '"XXiuXX"',
        "a dtype's kind is one letter; no kind is 'X'",
    ),
    "logitkit._penalties.x__history__mutmut_24": (
        '"XXiuXX"',
        "a dtype's kind is one letter; no kind is 'X'",
    ),
    "logitkit._divergence.x__two_rows__mutmut_23": (
        "y = y.astype(None)",
        "astype(None) is astype(float64)",
    ),
    "logitkit._functional.x__row_function__mutmut_41": (
        "r = None",
        "the small-row fast path off: the general call gives the same bits (a fast path)",
    ),
    "logitkit._functional.x__row_function__mutmut_104": (
        "type(None) is _ndarray",
        "the out= fast path off: the general path gives the same bits and the same out= errors",
    ),
    "logitkit._functional.x__row_function__mutmut_125": (
        "where, temperature, None)",
        "reduce is only tested for truth: None and False are both false",
    ),
    "logitkit._multi.x__sample_rows__mutmut_46": (
        "np.unravel_index(flat, lead)], None)",
        (
            "the sampled rows in their own dtype instead of float64: the [0, 1] test is the same and "
            "NumPy adds float16 and float32 rows in float32, within 2^-11 of the float64 sum; only a row "
            "sum within 0.05 % of the 1e-3 tolerance could change the warning's wording"
        ),
    ),
    "logitkit._multi.x_per_class__mutmut_10": (
        "(v > 0 and not positive)",
        "a plain number the shortcut now skips takes the array path, which applies the same rule",
    ),
    "logitkit._sample.x__rows__mutmut_31": (
        "x.dtype.itemsize < 4",
        "only float16 (itemsize 2) and long double (16) reach it: float_logits made the rest float",
    ),
    "logitkit._sample.x__top_k_option__mutmut_35": (
        "value.max() <= 3**62",
        "3**62 exceeds int64: every k passes, and every k >= the row length means no filter",
    ),
    "logitkit._sample.x__top_k_option__mutmut_6": (
        "value > 0",
        "top_k=0 then takes the array path, which returns the same 0",
    ),
    "logitkit._validation.x_target_error__mutmut_8": (
        "argument=argument,",
        "without argument=, InvalidTargetError reads the name from the message's start: the same",
    ),
    "logitkit.losses.x__bce__mutmut_1": (
        "temperature=2.0,",
        "a default no caller uses: both callers pass temperature",
    ),
    "logitkit.losses.x__bce__mutmut_265": (
        "_core.bce_reduced(None, y,",
        "the first call returns None and the plain copies take the same one-pass sum",
    ),
    "logitkit.losses.x__hard_target__mutmut_111": (
        "np.where(ignored, -2, t)",
        "the kernels read any negative label as an ignored item",
    ),
    "logitkit.losses.x_explain_target_shape__mutmut_17": (
        "np.sum(t, axis=ax, dtype=None)",
        "NumPy sums small integer types in the platform integer: the same counts of 0/1 entries",
    ),
    "logitkit.losses.x_grad_hess__mutmut_206": (
        "z = x.astype(None) / tw",
        "x is float64 on this path and tw long double: the quotient is long double either way",
    ),
    "logitkit.losses.x_nll_loss__mutmut_92": (
        "_class_weight(weight, C, None)",
        (
            "float32 class weights used unrounded: each weight differs by at most its rounding to "
            "float32, which the accuracy bound counts as part of the error; the result stays float32"
        ),
    ),
    "logitkit.multiclass.x_fit_temperature__mutmut_44": (
        "(hard) or True",
        "the ignore index is read for class labels only; soft labels never consult it",
    ),
    "logitkit.multiclass.x_top_k__mutmut_8": (
        "axis == -2 and type(logits)",
        "the small-row fast path off: the general path gives the same bits (a fast path)",
    ),
    "logitkit.multilabel.x__apply__mutmut_70": (
        "dt == np.float64 or _WIDE_IS_WIDER",
        (
            "float32 through the long double path: it and the float64 path compute in a type much "
            "wider than float32 and round once to float32"
        ),
    ),
    "logitkit.multilabel.x_entropy__mutmut_77": (
        "(lo != 1)",
        "lo is the low part of z, |lo| <= ulp(z)/2, never 1; where it is 0 the correction adds 0",
    ),
    "logitkit.multilabel.x_fit_temperature__mutmut_138": (
        ".min(axis=0, )",
        "initial= matters only for an empty column; an input without rows returned earlier",
    ),
    "logitkit.__main__.x_main__mutmut_52": (
        "confident = np.array([0.0, -40.0], )",
        "an array of Python floats is float64 without dtype=",
    ),
    "logitkit._dask.x_loss__mutmut_651": (
        "denom, lt, )",
        "without dtype=, dask calls _mean on a zero-size meta, which returns the dtype lt",
    ),
    "logitkit._dask.x_loss__mutmut_690": (
        "dtype=lt, meta=None)",
        "with dtype= given and no meta, dask builds the meta from the dtype",
    ),
    "logitkit._dask.x_map_rows__mutmut_92": (
        "meta=np.empty((0,) * nd, ),",
        "with dtype= given, dask casts the meta to that dtype",
    ),
    "logitkit._divergence.x__kl__mutmut_22": (
        ".get(red, )",
        "denom None (for 'sum' and 'none') is read as 1 by the kernel factor and unused by _reduce",
    ),
    "logitkit._divergence.x__two_rows__mutmut_21": (
        "x = x.astype(None)",
        "astype(None) is astype(float64)",
    ),
    "logitkit._functional.x__row_function__mutmut_26": (
        "and type(None) is int",
        "turns the small-call path off: the general path gives the same bits (performance only)",
    ),
    "logitkit._penalties.x__bias_dense__mutmut_20": (
        "b = b.astype(None)",
        "astype(None) is astype(float64)",
    ),
    "logitkit._sample.x__option__mutmut_35": (
        '"XXiufXX"',
        "a dtype kind is one letter, never X: the same membership",
    ),
    "logitkit._sample.x__top_k_option__mutmut_40": (
        '"XXiuXX"',
        "a dtype kind is one letter, never X: the same membership",
    ),
    "logitkit._sample.x__rows__mutmut_18": (
        "np.asarray(None).dtype",
        "as_real_array returns an array: x0 always has a dtype, the branch never runs",
    ),
    "logitkit._validation.x_as_real_array__mutmut_2": (
        'name: str = "X"',
        "a default no caller uses: every call names its argument",
    ),
    "logitkit.losses.x__bce__mutmut_84": (
        "axis == -2",
        "skips the shortcut for axis -1 only: class_axis_index gives the same axis",
    ),
    "logitkit.losses.x__cross_entropy__mutmut_2": (
        "r = None",
        "turns the small-call path off: the general path gives the same bits (performance only)",
    ),
    "logitkit.losses.x__focal__mutmut_286": (
        "np.asarray(temp, None)",
        "temp is a Python float: float64 either way, and the quotient takes the wide type",
    ),
    "logitkit.multiclass.x_fit_temperature__mutmut_13": (
        "_dask.is_dask(labels) and _dask.is_dask(sample_weight)",
        "Dask labels then computed at each step instead of once: the same values (performance only)",
    ),
    "logitkit.multiclass.x_fit_temperature__mutmut_62": (
        "ignore_index=ii, validate=None",
        "validate is read as a truth value: None and False both skip the check",
    ),
    "logitkit.multiclass.x_sample__mutmut_9": (
        "r = None",
        "turns the small-call path off: the general path gives the same draw (performance only)",
    ),
    "logitkit.multilabel.x__distillation__mutmut_48": (
        '"STUDENT_LOGITS"',
        "the student's logits were read (and refused by name) just before: this read cannot fail",
    ),
    "logitkit.multilabel.x_brier_score__mutmut_50": (
        "order=None",
        "the memory order of a temporary: the same values, and np.mean reads them in C order",
    ),
    "logitkit._dask.x__denominator__mutmut_113": (
        "dtype=None, chunks=one).sum()",
        "dask infers float64 from part() on a meta, the dtype given; the sum is read as a number",
    ),
    "logitkit._dask.x_loss__mutmut_145": (
        '"kind", "XXfXX")',
        "a NumPy or Dask dtype always has a kind: the default is never read",
    ),
    "logitkit._dask.x_loss__mutmut_552": (
        "dtype=object, )",
        "with dtype= given and no meta, dask builds the object meta of this intermediate itself",
    ),
    "logitkit._functional.x__check_against_the_kernel_list__mutmut_12": (
        "LOGITKIT._FUNCTIONAL: __ALL__",
        "raised only by an inconsistent package (a build error): no input reaches the message",
    ),
    "logitkit._functional.x__pair__mutmut_30": (
        'getattr(getattr(grad, "dtype", ), "kind", "f")',
        "grad is as_real_array's result, an array: it has a dtype, the default is never read",
    ),
    "logitkit._multi.x_along__mutmut_4": (
        "v.reshape((-2,)",
        "NumPy reads any negative size as the one to infer",
    ),
    "logitkit._sample.x__rows__mutmut_24": (
        '"XXdtypeXX"',
        "x0 is an array: np.asarray(x0).dtype is x0.dtype",
    ),
    "logitkit.losses.x__bce_weight__mutmut_36": (
        "ok = None",
        "read only as a truth value: None and False alike",
    ),
    "logitkit.multiclass.x_sample__mutmut_7": (
        "axis == -2",
        "the small-call path off for axis -1: the general path gives the same draw (performance)",
    ),
    "logitkit.multiclass.x_top_k__mutmut_52": (
        'getattr(x, "dtype", )',
        "x is an array: it has a dtype, the default is never read",
    ),
    "logitkit.multilabel.x__z__mutmut_29": (
        "np.asarray(along(b, ax, x.ndim), None)",
        "z is in the wide type: adding the float64 bias promotes to it either way",
    ),
    "logitkit._sample.x__fast_sample__mutmut_3": (
        "dt = None",
        "turns the small-call path off: the general path gives the same draw (performance only)",
    ),
}

# Tests that assert a warning names the user's line: mutmut's trampolines add frames between the
# package's functions, so the line named is one of the package's own under mutation (not a mutant's
# doing). They run in the suite.
DESELECT = [
    "tests/test_multiclass.py::test_probabilities_warning_points_at_the_callers_line",
    "tests/test_multilabel.py::test_probabilities_warning_points_at_the_callers_line",
    "tests/test_diagnostics.py::test_probabilities_warning_points_at_the_caller",
    "tests/test_diagnostics.py::test_calibration_warning_points_at_the_caller",
]

CONFIG = """\
[tool.pytest.ini_options]
testpaths = ["tests"]
filterwarnings = ["error"]

[tool.mutmut]
source_paths = ["src/logitkit/"]
pytest_add_cli_args_test_selection = {tests}
pytest_add_cli_args = {deselect}
also_copy = {also}
# each mutant's process comes from a server that has not run the tests: forked from the process that
# did, a worker inherited locks other threads held at the fork (a progress thread, the pool's
# threads) and could wait on them forever, unseen by mutmut's CPU-time limit
process_isolation = "forkserver"
"""


def stage(where: pathlib.Path) -> None:
    import logitkit  # the installed build: its compiled extension goes beside the copied sources

    installed = pathlib.Path(logitkit.__file__).parent
    pkg = where / "src" / "logitkit"
    shutil.copytree(ROOT / "python" / "logitkit", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    also = []
    for f in installed.iterdir():
        if f.name.startswith("_core.") and f.suffix in (".so", ".pyd", ".pyi"):
            shutil.copy2(f, pkg / f.name)
            also.append(f"src/logitkit/{f.name}")
    if not any(a.endswith((".so", ".pyd")) for a in also):
        sys.exit(
            f"no compiled extension next to {installed}: install the package first (pip install .)"
        )
    shutil.copytree(
        ROOT / "tests", where / "tests", ignore=shutil.ignore_patterns("__pycache__", "cpp")
    )
    tests = [f"tests/{t}" for t in TESTS]
    deselect = [a for t in DESELECT for a in ("--deselect", t)]
    (where / "pyproject.toml").write_text(
        CONFIG.format(tests=_toml(tests), deselect=_toml(deselect), also=_toml(also))
    )


def _toml(strings: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in strings) + "]"


def statuses(where: pathlib.Path) -> dict[str, str]:
    """Every mutant's name and status ("killed", "survived", "no tests", "not checked", ...)."""
    out = subprocess.run(
        check=False,
        args=[sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=where,
        capture_output=True,
        text=True,
    ).stdout
    res = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+__mutmut_\d+): (.+)$", line)
        if m:
            res[m.group(1)] = m.group(2).strip()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sample", type=int, default=0, help="run a random sample of this many mutants"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--module", default="", help="mutmut's name glob, e.g. 'logitkit._calibration*'"
    )
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--keep", type=pathlib.Path, default=None, help="staging directory (kept)")
    ap.add_argument(
        "--only",
        nargs="+",
        default=[],
        help="run these mutants by name (e.g. last run's survivors)",
    )
    a = ap.parse_args()

    where = a.keep or pathlib.Path(tempfile.mkdtemp(prefix="logitkit-mutation-"))
    if not (where / "src").exists():
        where.mkdir(parents=True, exist_ok=True)
        stage(where)
    base = [sys.executable, "-m", "mutmut", "run", "--max-children", str(a.jobs)]
    if a.only:
        subprocess.run(check=False, args=base + a.only, cwd=where)
    elif a.sample:
        # generate the mutants (a run over nothing matching), then pick the sample by name
        subprocess.run(
            check=False, args=base + ["logitkit.no_such_module*"], cwd=where, capture_output=True
        )
        names = list(statuses(where))
        if a.module:
            names = [n for n in names if pathlib.PurePath(n).match(a.module)]
        chosen = sorted(random.Random(a.seed).sample(names, min(a.sample, len(names))))
        for i in range(0, len(chosen), 200):  # keep each command line short
            subprocess.run(check=False, args=base + chosen[i : i + 200], cwd=where)
    else:
        subprocess.run(check=False, args=base + ([a.module] if a.module else []), cwd=where)

    st = {k: v for k, v in statuses(where).items() if not a.only or k in a.only}
    for name, s in st.items():
        if s in ("survived", "no tests") and name.startswith(IMPORT_TIME):
            st[name] = _run_fresh(where, name)
    diffs = {k: _diff(where, k) for k, v in st.items() if v in ("survived", "no tests")}
    per = collections.defaultdict(collections.Counter)
    stale = []
    for name, s in st.items():
        if s not in ("killed", "survived", "timeout", "no tests"):
            continue
        if name in diffs:
            fragment = EQUIVALENT.get(name, (None,))[0]
            outside = KILLED_OUTSIDE.get(name, (None,))[0]
            if outside is not None and _mutated_lines(diffs[name], outside):
                s = "killed"
            elif fragment is not None and _mutated_lines(diffs[name], fragment):
                s = "equivalent"
            else:
                if fragment is not None:
                    stale.append(name)
                s = "survived"  # a mutant no selected test reaches is not caught either
        per[name.split(".x")[0]][s] += 1
    total = collections.Counter()
    head = f"{'module':<32} {'killed':>7} {'survived':>9} {'timeout':>8} {'equiv.':>7} {'score':>7}"
    print("\n" + head)
    for mod in [*sorted(per), "all"]:
        c = total if mod == "all" else per[mod]
        if mod != "all":
            total.update(c)
        n = c["killed"] + c["timeout"] + c["survived"]
        score = f"{(c['killed'] + c['timeout']) / n:>7.1%}" if n else f"{'-':>7}"
        print(
            f"{mod:<32} {c['killed']:>7} {c['survived']:>9} {c['timeout']:>8} "
            f"{c['equivalent']:>7} {score}"
        )
    survivors = sorted(k for k in diffs if k not in EQUIVALENT | KILLED_OUTSIDE or k in stale)
    with open(where / "survivors.txt", "w") as f:
        for name in survivors:
            f.write(f"# {name}: {st[name]}\n{diffs[name]}\n")
    for name in stale:
        print(f"stale EQUIVALENT entry (its mutant changed; counted as a survivor): {name}")
    print(f"{len(survivors)} survivors, their diffs: {where / 'survivors.txt'}")


def _run_fresh(where: pathlib.Path, name: str) -> str:
    """The tests of IMPORT_TIME_TESTS against one mutant switched on before the package's import."""
    env = dict(os.environ, MUTANT_UNDER_TEST=name, PYTHONPATH=str(where / "mutants" / "src"))
    args = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    args += [f"tests/{t}" for t in IMPORT_TIME_TESTS] + [
        a for t in DESELECT for a in ("--deselect", t)
    ]
    r = subprocess.run(args, cwd=where / "mutants", env=env, capture_output=True, check=False)
    # 1: a test failed; 2: collection stopped (the package did not import); 4: conftest's import
    # of the package failed. Each is the mutant observed; 5 is "no tests ran".
    return (
        "killed"
        if r.returncode in (1, 2, 4)
        else "survived"
        if r.returncode == 0
        else f"error {r.returncode}"
    )


def _diff(where: pathlib.Path, name: str) -> str:
    return subprocess.run(
        check=False,
        args=[sys.executable, "-m", "mutmut", "show", name],
        cwd=where,
        capture_output=True,
        text=True,
    ).stdout


def _mutated_lines(diff: str, fragment: str) -> bool:
    """The mutant's changed lines (added or removed) contain ``fragment``, as EQUIVALENT recorded
    it."""
    return any(
        fragment in line[1:]
        for line in diff.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


if __name__ == "__main__":
    main()
