"""`python -m stackrules.schemas`: regenerate the committed schema files from the models."""

from stackrules.schemas import write

for path in write():
    print(path)
