import pytest
from datamap_fixtures import tiny_dataset


@pytest.fixture
def dataset(tiny_tokenizer):
    return tiny_dataset(tiny_tokenizer)
