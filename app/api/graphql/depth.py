"""The query depth limit, made safe for documents with an empty selection set (`{ jobs { } }`):
graphql-core parses those, and strawberry's depth rule then fails with a Python error instead of
a GraphQL one. Such documents get a clear validation error here and are never executed."""

from graphql.language import Visitor
from strawberry.extensions import AddValidationRules
from strawberry.extensions.query_depth_limiter import create_validator

from graphql import GraphQLError, SelectionSetNode, ValidationContext, ValidationRule, visit


class _EmptySelections(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[SelectionSetNode] = []

    def enter_selection_set(self, node: SelectionSetNode, *_: object) -> None:
        if not node.selections:
            self.found.append(node)


def _empty_selection_sets(context: ValidationContext) -> list[SelectionSetNode]:
    finder = _EmptySelections()
    visit(context.document, finder)
    return finder.found


def depth_limit(max_depth: int) -> type[AddValidationRules]:
    depth_rule = create_validator(max_depth, None, None)

    class SafeDepthRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            empty = _empty_selection_sets(context)
            if empty:
                context.report_error(
                    GraphQLError("A selection set is empty: select at least one field.", empty)
                )
                return
            depth_rule(context)  # reports an operation deeper than the limit

    class DepthLimit(AddValidationRules):
        def __init__(self) -> None:
            super().__init__([SafeDepthRule])

    return DepthLimit
