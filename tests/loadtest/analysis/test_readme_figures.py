"""The README's measured figures are the committed report data's: regenerated, the README does not change."""

from infra.settings import PROJECT_ROOT
from loadtest.analysis import readme_figures, report_data
from tests.loadtest.analysis.records import write_all

README = PROJECT_ROOT / "README.md"


def test_every_readme_figure_from_a_run_agrees_with_the_report_data():
    text = README.read_text()

    assert sorted(m["name"] for m in readme_figures.MARKER.finditer(text)) == sorted(readme_figures.BLOCKS)
    assert readme_figures.generated(text, report_data.DATA_DIR) == text, (
        "the README's figures differ from report/data: run python -m loadtest.analysis.report"
    )


def test_a_block_is_rewritten_from_the_data(tmp_path):
    write_all(tmp_path / "data")
    stale = (
        "Before.\n\n<!-- report:lambda-or-fleet -->\n\nthe Lambda runner stored 47,480 events\n\n"
        "<!-- /report:lambda-or-fleet -->\n\nAfter.\n"
    )

    text = readme_figures.generated(stale, tmp_path / "data")

    assert text.startswith("Before.\n\n<!-- report:lambda-or-fleet -->\n\nMeasured here (REPORT.md,")
    words = " ".join(text.split())  # as it reads, whatever the wrapping
    assert (
        "the Lambda runner stored 8,000 events once, its pollers going 5 → 10 → 5 through a 2,000-message"
        in words
    )
    assert (
        "backlog; the worker fleet stored 8,000 once, growing 5 → 10 → 5 workers on backlog per worker"
        in words
    )
    assert text.endswith(
        '(figures from REPORT.md "What it costs"):\n\n<!-- /report:lambda-or-fleet -->\n\nAfter.\n'
    )
