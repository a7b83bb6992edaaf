"""What other stages may use of `nowcast.ingest` (read at import by `__init__.py`: each name is
imported from its module on first use). Anything not listed is private to the stage."""

from .backfill import Backfill as Backfill
from .draft import draft_pipeline as draft_pipeline
from .draft import inspect_folder as inspect_folder
from .draft import inspect_listing as inspect_listing
from .groups import pipeline_groups as pipeline_groups
from .ledger import Ledger as Ledger
from .pipeline import PipelineConfig as PipelineConfig
from .pipeline import load_pipeline as load_pipeline
from .pipeline_check import check_pipeline as check_pipeline
from .run import IngestReport as IngestReport
from .run import run_ingest as run_ingest
from .url_listing import is_url as is_url
