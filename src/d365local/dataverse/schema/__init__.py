"""The tables and columns a Dataverse organization has (what ``EntityDefinitions`` describe): the lowest layer."""
